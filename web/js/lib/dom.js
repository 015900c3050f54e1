// A tiny element builder. Text is always set as text, never parsed as HTML.

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'tabIndex', 'id', 'type', 'name']);

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (PROPS.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** Make `parent`'s children exactly `nodes`, in order, moving only what moved. */
export function reconcile(parent, nodes) {
  let cursor = parent.firstChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextSibling;
    } else {
      parent.insertBefore(node, cursor);
    }
  }
  while (cursor) {
    const next = cursor.nextSibling;
    cursor.remove();
    cursor = next;
  }
}

const announcer = () => document.getElementById('announcer');

/** Tell screen readers something happened (new message, connection lost…). */
export function announce(text) {
  const region = announcer();
  if (!region) return;
  const line = h('p', { text });
  region.append(line);
  while (region.childElementCount > 5) region.firstElementChild.remove();
}
