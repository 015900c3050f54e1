// One message in the history: built once, updated in place.

import { h } from '../lib/dom.js';
import { displayName, formatBytes, formatTime, summary } from '../lib/format.js';
import { icon } from '../lib/icons.js';

const STATUS_LABEL = { SENT: 'Sent', DELIVERED: 'Delivered', READ: 'Read' };

export function buildMessage(key) {
  const parts = {
    who: h('span', { class: 'sr-only' }),
    sender: h('div', { class: 'sender', 'data-testid': 'message-sender' }),
    forwarded: h('div', { class: 'forwarded', 'data-testid': 'forwarded-label' }),
    quote: h('button', { type: 'button', class: 'quote', 'data-testid': 'reply-quote', 'data-action': 'goto-reply' }),
    files: h('div', { class: 'attachments', 'data-testid': 'message-attachments' }),
    body: h('p', { class: 'body', 'data-testid': 'message-body' }),
    pinned: h('span', { class: 'pin-mark', 'data-testid': 'pinned-mark', title: 'Pinned' }, icon('pin', { size: 12 })),
    edited: h('span', { class: 'edited', 'data-testid': 'edited-mark' }, 'edited'),
    time: h('time', { class: 'time' }),
    status: h('span', { class: 'ticks', 'data-testid': 'message-status', role: 'img' }),
    retry: h('button', { type: 'button', class: 'retry link', 'data-action': 'retry', 'data-testid': 'retry-send' }, 'Not sent. Retry'),
    toggle: h('button', {
      type: 'button', class: 'actions-toggle', 'data-action': 'menu', 'aria-haspopup': 'menu',
      'aria-expanded': 'false', 'aria-label': 'Message actions', 'data-testid': 'message-actions',
    }, icon('more')),
  };
  parts.bubble = h('div', { class: 'bubble' },
    parts.who, parts.sender, parts.forwarded, parts.quote, parts.files, parts.body,
    h('div', { class: 'meta' }, parts.pinned, parts.edited, parts.time, parts.status),
    parts.retry);
  const li = h('li', { class: 'msg', 'data-testid': 'message', 'data-key': key }, parts.bubble, parts.toggle);
  li.parts = parts;
  return li;
}

/**
 * @param {HTMLElement} li from buildMessage
 * @param {object} m the message
 * @param {{store, chat, grouped: boolean}} ctx
 */
export function updateMessage(li, m, { store, chat, grouped }) {
  const p = li.parts;
  const mine = store.me && m.senderId === store.me.id;
  const deleted = !!m.deletedAt;
  const sender = store.user(m.senderId);

  li.classList.toggle('own', !!mine);
  li.classList.toggle('theirs', !mine);
  li.classList.toggle('grouped', !!grouped);
  li.classList.toggle('deleted', deleted);
  li.classList.toggle('pinned', !!m.isPinned);
  li.dataset.messageId = m.id || '';
  li.dataset.clientMessageId = m.clientMessageId || '';
  li.dataset.seq = Number.isFinite(m.seq) ? String(m.seq) : '';
  li.dataset.state = m.local || 'stored';
  li.dataset.status = m.local ? m.local.toUpperCase() : m.status || 'SENT';
  li.dataset.mine = String(!!mine);

  p.sender.textContent = displayName(sender);
  p.sender.hidden = !!mine || chat?.type === 'direct' || grouped;

  const forwarded = !!m.isForwarded && !deleted;
  p.forwarded.hidden = !forwarded;
  if (forwarded) {
    const original = m.originalSenderId ? store.user(m.originalSenderId) : null;
    p.forwarded.textContent = original ? `Forwarded from ${displayName(original)}` : 'Forwarded message';
  }

  const replyTo = m.replyToId && !deleted ? store.findMessage(m.replyToId) : null;
  p.quote.hidden = !m.replyToId || deleted;
  if (m.replyToId && !deleted) {
    p.quote.dataset.target = m.replyToId;
    const text = replyTo ? (replyTo.deletedAt ? 'message deleted' : summary(replyTo, 90)) : 'Earlier message';
    const who = replyTo ? displayName(store.user(replyTo.senderId)) : 'Reply';
    p.quote.replaceChildren(h('span', { class: 'quote-name' }, who), h('span', { class: 'quote-text' }, text));
    p.quote.setAttribute('aria-label', `In reply to ${who}: ${text}. Show`);
  }

  // Text only: a body is never parsed as HTML.
  p.body.textContent = deleted ? 'message deleted' : m.body ?? '';
  const files = deleted ? [] : m.attachments || [];
  p.body.hidden = !deleted && !m.body && files.length > 0;
  renderAttachments(p.files, files);
  p.edited.hidden = !m.editedAt || deleted;
  p.pinned.hidden = !m.isPinned || deleted;
  p.time.textContent = formatTime(m.createdAt);
  if (m.createdAt) p.time.dateTime = m.createdAt;

  p.status.hidden = !mine || deleted;
  if (mine) {
    const s = m.local === 'pending' ? 'PENDING' : m.local === 'failed' ? 'FAILED' : m.status || 'SENT';
    p.status.dataset.status = s;
    if (s === 'PENDING') p.status.replaceChildren(icon('clock', { size: 12 }));
    else p.status.textContent = { FAILED: '!', SENT: '✓', DELIVERED: '✓✓', READ: '✓✓' }[s] || '✓';
    p.status.setAttribute('aria-label', { PENDING: 'Sending', FAILED: 'Not sent' }[s] || STATUS_LABEL[s] || s);
  }
  p.retry.hidden = m.local !== 'failed';
  p.toggle.hidden = deleted || !m.id;

  p.who.textContent = `${mine ? 'You' : displayName(sender)}: `;
}

export function buildDaySeparator(label) {
  return h('li', { class: 'day-separator', 'data-testid': 'day-separator', role: 'separator', 'aria-label': label },
    h('span', {}, label));
}

// --- attachments ---------------------------------------------------------------

const isImage = (a) => String(a.contentType || '').startsWith('image/');

/** Thumbnails for images, chips for other files; rebuilt only when they change. */
function renderAttachments(container, files) {
  const key = files.map((a) => `${a.id}|${a.url || ''}`).join(',');
  if (container.dataset.key === key) return;
  container.dataset.key = key;
  container.hidden = files.length === 0;
  container.replaceChildren(...files.map((a) => (isImage(a) && a.url ? imageThumb(a) : fileChip(a))));
}

function imageThumb(a) {
  const img = h('img', {
    src: a.url, alt: a.filename, loading: 'lazy', decoding: 'async', 'data-testid': 'attachment-image',
  });
  if (a.width && a.height) {
    img.width = Math.min(a.width, 240);
    img.height = Math.round((img.width / a.width) * a.height);
  }
  return h('button', {
    type: 'button', class: 'thumb', 'aria-label': `Show ${a.filename} larger`,
    onclick: () => openLightbox(a),
  }, img);
}

function fileChip(a) {
  const size = formatBytes(a.size);
  const label = h('span', { class: 'file-text' },
    h('span', { class: 'file-name', 'data-testid': 'attachment-name' }, a.filename),
    h('span', { class: 'file-size', 'data-testid': 'attachment-size' }, size));
  if (!a.url) {
    return h('span', { class: 'file-chip', 'data-testid': 'attachment-file' }, icon('file', { size: 18 }), label);
  }
  return h('a', {
    class: 'file-chip', href: a.url, download: a.filename, target: '_blank', rel: 'noopener',
    'data-testid': 'attachment-file', 'aria-label': `Download ${a.filename}, ${size}`,
  }, icon('file', { size: 18 }), label);
}

/** The image at full size in a modal; Escape or a click closes it. */
export function openLightbox(a) {
  const returnTo = document.activeElement;
  const close = h('button', { type: 'button', class: 'icon lightbox-close', 'aria-label': 'Close' }, icon('close'));
  const dialog = h('dialog', { class: 'lightbox', 'data-testid': 'lightbox', 'aria-label': a.filename },
    h('img', { src: a.url, alt: a.filename, 'data-testid': 'lightbox-image' }),
    h('div', { class: 'lightbox-bar' },
      h('a', { href: a.url, download: a.filename, target: '_blank', rel: 'noopener', class: 'link' },
        `${a.filename} (${formatBytes(a.size)})`),
      close));
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (returnTo && returnTo.isConnected) returnTo.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
}
