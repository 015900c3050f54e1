// Modal dialogs: start a chat, forward a message. Native <dialog>: it traps
// focus and closes on Escape; we put focus back where it was.

import { h } from '../lib/dom.js';
import { displayName, summary } from '../lib/format.js';
import { avatar } from './avatar.js';

function showDialog(dialog, onClose) {
  const returnTo = document.activeElement;
  document.body.append(dialog);
  dialog.addEventListener('close', () => {
    dialog.remove();
    onClose(dialog.returnValue);
    if (returnTo && returnTo.isConnected) returnTo.focus();
  });
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close('');
  });
  dialog.showModal();
}

/** Resolves to the chosen chat, or null. */
export function openForwardDialog(store, chats, message) {
  return new Promise((resolve) => {
    let chosen = null;
    const filter = h('input', { id: 'forward-filter', type: 'search', placeholder: 'Search chats', autocomplete: 'off' });
    const list = h('ul', { class: 'pick-list', 'data-testid': 'forward-targets', 'aria-label': 'Chats' });
    const render = () => {
      const q = filter.value.trim().toLowerCase();
      list.replaceChildren(...chats
        .filter((c) => !q || store.chatTitle(c).toLowerCase().includes(q))
        .map((c) => h('li', {}, h('button', {
          type: 'button', class: 'pick', 'data-testid': 'forward-target', 'data-chat-id': c.id,
          onclick: () => {
            chosen = c;
            dialog.close('forward');
          },
        }, avatar(store.chatTitle(c), { seed: c.id, group: c.type !== 'direct' }), h('span', {}, store.chatTitle(c))))));
    };
    filter.addEventListener('input', render);
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'forward-title', 'data-testid': 'forward-dialog' },
      h('h2', { id: 'forward-title' }, 'Forward message'),
      h('blockquote', { class: 'forward-preview' }, summary(message, 140)),
      h('label', { for: 'forward-filter', class: 'sr-only' }, 'Search chats'),
      filter,
      list,
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'ghost', onclick: () => dialog.close('') }, 'Cancel')));
    render();
    showDialog(dialog, () => resolve(chosen));
    filter.focus();
  });
}

/** Resolves to {type, memberIds, title} or null. */
export function openNewChatDialog(client) {
  return new Promise((resolve) => {
    const store = client.store;
    const selected = new Map(); // id -> user
    let result = null;
    let searchSeq = 0;

    const typeDirect = h('input', { type: 'radio', name: 'chat-type', id: 'type-direct', value: 'direct', checked: true });
    const typeGroup = h('input', { type: 'radio', name: 'chat-type', id: 'type-group', value: 'group' });
    const title = h('input', { id: 'new-chat-title', maxlength: 64, autocomplete: 'off', 'data-testid': 'new-chat-title' });
    const titleRow = h('div', { class: 'field', hidden: true }, h('label', { for: 'new-chat-title' }, 'Group name'), title);
    const search = h('input', {
      id: 'new-chat-search', type: 'search', autocomplete: 'off', placeholder: 'Name or username',
      'data-testid': 'new-chat-search',
    });
    const results = h('ul', { class: 'pick-list', 'data-testid': 'new-chat-results', 'aria-label': 'People' });
    const chosenList = h('p', { class: 'chosen', 'aria-live': 'polite', 'data-testid': 'new-chat-chosen' });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const create = h('button', { type: 'submit', class: 'primary', 'data-testid': 'new-chat-create' }, 'Start chat');

    const isGroup = () => typeGroup.checked;
    const renderChosen = () => {
      const names = [...selected.values()].map(displayName);
      chosenList.textContent = names.length ? `With: ${names.join(', ')}` : '';
      create.disabled = selected.size === 0 || (!isGroup() && selected.size !== 1);
    };
    const renderResults = (users) => {
      results.replaceChildren(...users
        .filter((u) => !store.me || u.id !== store.me.id)
        .map((u) => {
          const box = h('input', {
            type: isGroup() ? 'checkbox' : 'radio', name: 'member', id: `member-${u.id}`, value: u.id,
            checked: selected.has(u.id), 'data-testid': 'new-chat-user', 'data-username': u.username,
          });
          box.addEventListener('change', () => {
            if (!isGroup()) selected.clear();
            if (box.checked) selected.set(u.id, u);
            else selected.delete(u.id);
            renderChosen();
          });
          return h('li', { class: 'pick' }, box,
            h('label', { for: `member-${u.id}` },
              avatar(displayName(u), { seed: u.id, online: !!u.online }),
              h('span', {}, displayName(u), ' ', h('span', { class: 'hint' }, `@${u.username}`))));
        }));
      if (!results.childElementCount) results.append(h('li', { class: 'empty' }, 'Nobody found.'));
    };
    let timer;
    const runSearch = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const seq = ++searchSeq;
        try {
          const users = await client.searchUsers(search.value.trim());
          if (seq === searchSeq) renderResults(users);
        } catch (err) {
          if (seq === searchSeq) error.textContent = err.message;
        }
      }, 200);
    };
    search.addEventListener('input', runSearch);
    for (const radio of [typeDirect, typeGroup]) {
      radio.addEventListener('change', () => {
        titleRow.hidden = !isGroup();
        if (!isGroup() && selected.size > 1) selected.clear();
        renderChosen();
        runSearch();
      });
    }

    const form = h('form', { method: 'dialog', class: 'new-chat-form' },
      h('h2', { id: 'new-chat-heading' }, 'New chat'),
      h('fieldset', { class: 'segmented' },
        h('legend', { class: 'sr-only' }, 'Kind of chat'),
        typeDirect, h('label', { for: 'type-direct' }, 'Direct'),
        typeGroup, h('label', { for: 'type-group' }, 'Group')),
      titleRow,
      h('div', { class: 'field' }, h('label', { for: 'new-chat-search' }, 'Find people'), search),
      results,
      chosenList,
      error,
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'ghost', onclick: () => dialog.close('') }, 'Cancel'),
        create));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!selected.size) return;
      result = {
        type: isGroup() ? 'group' : 'direct',
        memberIds: [...selected.keys()],
        title: isGroup() ? title.value.trim() || undefined : undefined,
      };
      dialog.close('create');
    });
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'new-chat-heading', 'data-testid': 'new-chat-dialog' }, form);
    renderChosen();
    showDialog(dialog, () => resolve(result));
    search.focus();
    runSearch();
  });
}
