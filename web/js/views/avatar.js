// Initials in a circle, with a presence dot.

import { h } from '../lib/dom.js';
import { initials } from '../lib/format.js';

const HUES = 12;

function hue(seed) {
  let n = 0;
  for (const ch of String(seed || '')) n = (n * 31 + ch.charCodeAt(0)) >>> 0;
  return n % HUES;
}

export function avatar(name, { seed, online, group = false } = {}) {
  const el = h('span', { class: `avatar hue-${hue(seed || name)}${group ? ' group' : ''}`, 'aria-hidden': 'true' },
    initials(name));
  if (online !== undefined) {
    el.append(h('span', { class: `presence ${online ? 'on' : 'off'}`, 'data-testid': 'presence-dot', 'data-online': String(!!online) }));
  }
  return el;
}
