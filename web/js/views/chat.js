// The open chat: header, pinned bar, history with scroll-back, typing, composer.

import { announce, h, reconcile } from '../lib/dom.js';
import { dayKey, dayLabel, displayName, formatBytes, lastSeen, summary } from '../lib/format.js';
import { messageKey } from '../store.js';
import { icon } from '../lib/icons.js';
import { avatar } from './avatar.js';
import { uploadAttachment } from '../uploads.js';
import { openForwardDialog } from './dialogs.js';
import { buildDaySeparator, buildMessage, updateMessage } from './message.js';

const NEAR_BOTTOM_PX = 80;
const NEAR_TOP_PX = 150;
const GROUP_WINDOW_MS = 5 * 60 * 1000;

export class ChatView {
  constructor(client, chatId, { onBack, toast }) {
    this.client = client;
    this.store = client.store;
    this.chatId = chatId;
    this.toast = toast;
    this.nodes = new Map(); // key -> li
    this.separators = new Map(); // day -> li
    this.visible = new Set(); // keys of others' messages on screen
    this.mode = null; // {type: 'reply'|'edit', message}
    this.pinIndex = null;
    this.stickToBottom = true;
    this.firstRender = true;

    this.build(onBack);
    this.observer = new IntersectionObserver((entries) => this.onIntersect(entries), {
      root: this.scroller,
      threshold: 0.5,
    });
    this.unsubscribe = [
      this.store.on(`messages:${chatId}`, () => this.scheduleRender()),
      this.store.on(`chat:${chatId}`, () => this.renderHeader()),
      this.store.on('users', () => this.scheduleRender()),
      this.store.on(`typing:${chatId}`, () => this.renderTyping()),
      this.store.on('connection', () => this.renderComposerState()),
    ];
    this.onVisibility = () => this.flushReads();
    document.addEventListener('visibilitychange', this.onVisibility);
    this.onDocClick = (e) => {
      if (this.menu && !this.menu.contains(e.target) && !e.target.closest('[data-action="menu"]')) this.closeMenu(false);
    };
    document.addEventListener('click', this.onDocClick);
    this.typingTicker = null;
    this.renderHeader();
    this.render();
    this.renderComposerState();
  }

  destroy() {
    for (const off of this.unsubscribe) off();
    document.removeEventListener('visibilitychange', this.onVisibility);
    document.removeEventListener('click', this.onDocClick);
    this.observer.disconnect();
    clearInterval(this.typingTicker);
    cancelAnimationFrame(this.frame);
  }

  // -- layout -----------------------------------------------------------------

  build(onBack) {
    this.title = h('h2', { id: 'chat-title', class: 'chat-title', 'data-testid': 'chat-title' });
    this.subtitle = h('p', { class: 'chat-subtitle', 'data-testid': 'chat-subtitle' });
    this.avatarSlot = h('span', { class: 'avatar-slot' });
    this.leaveButton = h('button', {
      type: 'button', class: 'ghost', 'data-testid': 'leave-chat',
      onclick: () => this.leave(),
    }, 'Leave');

    this.pinnedText = h('span', { class: 'pinned-text', 'data-testid': 'pinned-text' });
    this.pinnedCount = h('span', { class: 'pinned-count', 'data-testid': 'pinned-count' });
    this.pinnedBar = h('div', { class: 'pinned-bar', 'data-testid': 'pinned-bar', role: 'region', 'aria-label': 'Pinned messages' },
      h('button', { type: 'button', class: 'pinned-show', onclick: () => this.showPinned() },
        h('span', { class: 'pin-icon' }, icon('pin')),
        h('span', { class: 'pinned-lines' }, h('span', { class: 'pinned-label' }, 'Pinned message ', this.pinnedCount), this.pinnedText)),
      h('button', { type: 'button', class: 'icon', 'aria-label': 'Unpin message', 'data-testid': 'pinned-unpin', onclick: () => this.unpinShown() }, icon('close', { size: 18 })));

    this.historyStatus = h('div', { class: 'history-status', 'data-testid': 'history-status' });
    this.olderButton = h('button', { type: 'button', class: 'link', 'data-testid': 'load-older', onclick: () => this.loadOlder() }, 'Load older messages');
    this.list = h('ol', { class: 'messages', 'data-testid': 'message-list', 'aria-label': 'Messages' });
    this.jump = h('button', { type: 'button', class: 'jump', 'data-testid': 'jump-to-latest', hidden: true, onclick: () => this.scrollToBottom(true) }, '↓ New messages');
    this.scroller = h('div', { class: 'scroller', tabindex: '0', 'aria-label': 'Message history', role: 'region' },
      h('div', { class: 'history-top' }, this.historyStatus, this.olderButton),
      this.list);
    this.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.list.addEventListener('click', (e) => this.onListClick(e));
    this.list.addEventListener('keydown', (e) => this.onListKey(e));

    this.typing = h('div', { class: 'typing-line', 'data-testid': 'typing-indicator', 'aria-live': 'polite' });

    this.contextText = h('span', { class: 'context-text', 'data-testid': 'composer-context-text' });
    this.context = h('div', { class: 'composer-context', 'data-testid': 'composer-context', hidden: true },
      this.contextText,
      h('button', { type: 'button', class: 'icon', 'aria-label': 'Cancel', 'data-testid': 'composer-cancel', onclick: () => this.setMode(null) }, icon('close', { size: 18 })));
    this.input = h('textarea', {
      id: 'composer-input', class: 'composer-input', 'data-testid': 'composer', rows: 1, maxlength: 4000,
      placeholder: 'Write a message…', 'aria-describedby': 'composer-help', enterkeyhint: 'send',
    });
    this.input.addEventListener('keydown', (e) => this.onComposerKey(e));
    this.input.addEventListener('input', () => this.onComposerInput());
    this.input.addEventListener('paste', (e) => this.onPaste(e));
    this.sendButton = h('button', { type: 'submit', class: 'send primary', 'data-testid': 'send', 'aria-label': 'Send' }, icon('send'));
    this.uploads = []; // {file, item, bar, state: 'uploading'|'done'|'failed', attachment, promise}
    this.fileInput = h('input', { type: 'file', multiple: true, hidden: true, 'data-testid': 'attach-input' });
    this.fileInput.addEventListener('change', () => {
      this.addFiles(this.fileInput.files);
      this.fileInput.value = '';
    });
    this.attachButton = h('button', {
      type: 'button', class: 'icon attach', 'aria-label': 'Attach files', 'data-testid': 'attach',
      onclick: () => this.fileInput.click(),
    }, icon('attach'));
    this.pendingList = h('ul', { class: 'pending-files', 'data-testid': 'pending-attachments', 'aria-label': 'Files to send', hidden: true });
    this.composerNote = h('p', { class: 'composer-note', 'data-testid': 'composer-note', 'aria-live': 'polite' });
    this.form = h('form', { class: 'composer', 'aria-label': 'Write a message' },
      this.context,
      this.pendingList,
      h('div', { class: 'composer-row' },
        this.attachButton, this.fileInput,
        h('label', { for: 'composer-input', class: 'sr-only' }, 'Message'),
        this.input, this.sendButton),
      h('p', { id: 'composer-help', class: 'sr-only' }, 'Enter sends, Shift+Enter starts a new line, Up arrow edits your last message.'),
      this.composerNote);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });

    this.el = h('section', { class: 'chat', 'aria-labelledby': 'chat-title', 'data-testid': 'chat-view', 'data-chat-id': this.chatId },
      h('header', { class: 'chat-header' },
        h('button', { type: 'button', class: 'icon back', 'aria-label': 'Back to chats', 'data-testid': 'back', onclick: onBack }, icon('back')),
        this.avatarSlot,
        h('div', { class: 'chat-heading' }, this.title, this.subtitle),
        this.leaveButton),
      this.pinnedBar,
      h('div', { class: 'scroll-wrap' }, this.scroller, this.jump),
      this.typing,
      this.form);
    // Files dropped anywhere on the chat are attached.
    this.el.addEventListener('dragover', (e) => {
      if (![...(e.dataTransfer?.types || [])].includes('Files')) return;
      e.preventDefault();
      this.el.classList.add('dropping');
    });
    this.el.addEventListener('dragleave', (e) => {
      if (!this.el.contains(e.relatedTarget)) this.el.classList.remove('dropping');
    });
    this.el.addEventListener('drop', (e) => {
      this.el.classList.remove('dropping');
      if (!e.dataTransfer?.files?.length) return;
      e.preventDefault();
      this.addFiles(e.dataTransfer.files);
    });
  }

  focusComposer() {
    this.input.focus();
  }

  // -- header, pins, typing ----------------------------------------------------

  renderHeader() {
    const chat = this.store.chat(this.chatId);
    if (!chat) return;
    const title = this.store.chatTitle(chat);
    const peer = this.store.peer(chat);
    this.title.textContent = title;
    if (peer) {
      this.subtitle.textContent = lastSeen(this.store.user(peer.id) || peer);
    } else {
      const ids = chat.memberIds || [];
      const online = ids.filter((id) => this.store.user(id)?.online).length;
      this.subtitle.textContent = `${ids.length} members${online ? `, ${online} online` : ''}`;
    }
    const key = `${title}|${peer ? !!this.store.user(peer.id)?.online : 'g'}`;
    if (this.avatarKey !== key) {
      this.avatarKey = key;
      this.avatarSlot.replaceChildren(avatar(title, { seed: chat.id, online: peer ? !!this.store.user(peer.id)?.online : undefined, group: !peer }));
    }
    this.leaveButton.hidden = chat.type === 'direct';
  }

  renderPinned() {
    const pins = this.store.pinnedList(this.chatId);
    this.pinnedBar.hidden = pins.length === 0;
    if (!pins.length) {
      this.pinIndex = null;
      return;
    }
    if (this.pinIndex === null || this.pinIndex >= pins.length) this.pinIndex = pins.length - 1;
    const shown = pins[this.pinIndex];
    this.pinnedText.textContent = summary(shown, 120);
    this.pinnedCount.textContent = pins.length > 1 ? `${this.pinIndex + 1} of ${pins.length}` : '';
    this.pinnedBar.dataset.messageId = shown.id;
  }

  showPinned() {
    const pins = this.store.pinnedList(this.chatId);
    if (!pins.length) return;
    const shown = pins[this.pinIndex ?? pins.length - 1];
    this.reveal(shown.id);
    // Next click shows the one before (wrapping), like most messengers.
    this.pinIndex = ((this.pinIndex ?? pins.length - 1) - 1 + pins.length) % pins.length;
    this.renderPinned();
  }

  async unpinShown() {
    const id = this.pinnedBar.dataset.messageId;
    const message = id && (this.store.conversation(this.chatId).get(id) || this.store.conversation(this.chatId).pinned.get(id));
    if (message) await this.run(() => this.client.unpin(message), 'Unpinned');
  }

  renderTyping() {
    const typers = this.store.typers(this.chatId);
    const names = typers.map((u) => displayName(u));
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    this.typing.textContent = text;
    this.typing.classList.toggle('active', !!text);
    clearInterval(this.typingTicker);
    if (text) this.typingTicker = setInterval(() => this.renderTyping(), 1000);
  }

  renderComposerState() {
    const state = this.store.connection;
    this.composerNote.textContent = state === 'online' ? '' : 'Offline: messages will be sent when the connection is back.';
    this.composerNote.hidden = state === 'online';
  }

  // -- history ---------------------------------------------------------------

  scheduleRender() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.render();
    });
  }

  render() {
    const store = this.store;
    const conv = store.conversation(this.chatId);
    const chat = store.chat(this.chatId);
    const messages = conv.list();

    // Where are we, before the DOM changes?
    const atBottom = this.isNearBottom();
    const anchor = this.anchor();

    const nodes = [];
    const seen = new Set();
    let lastDay = null;
    let prev = null;
    for (const m of messages) {
      const day = dayKey(m.createdAt);
      if (day !== lastDay) {
        let sep = this.separators.get(day);
        if (!sep) {
          sep = buildDaySeparator(dayLabel(m.createdAt));
          this.separators.set(day, sep);
        }
        nodes.push(sep);
        lastDay = day;
        prev = null;
      }
      const key = messageKey(m);
      let li = this.nodes.get(key);
      if (!li) {
        li = buildMessage(key);
        this.nodes.set(key, li);
      }
      const grouped = !!prev && prev.senderId === m.senderId && !prev.deletedAt &&
        Date.parse(m.createdAt) - Date.parse(prev.createdAt) < GROUP_WINDOW_MS;
      li.message = m;
      updateMessage(li, m, { store, chat, grouped });
      this.track(li, m, conv);
      nodes.push(li);
      seen.add(key);
      prev = m;
    }
    for (const [key, li] of this.nodes) {
      if (!seen.has(key)) {
        this.observer.unobserve(li);
        this.nodes.delete(key);
      }
    }
    if (this.menu && !this.menu.isConnected) this.menu = null;
    reconcile(this.list, nodes);

    // History status at the top.
    this.olderButton.hidden = !conv.loaded || !conv.hasMore || conv.loading;
    this.historyStatus.textContent = conv.loading
      ? 'Loading…'
      : conv.loaded && !conv.hasMore
        ? messages.length ? 'This is the beginning of the conversation.' : 'No messages yet. Say hello!'
        : '';

    // Scroll: first paint and "was at the bottom" stick to the bottom;
    // otherwise keep what the reader was looking at in place.
    const newestMine = messages.length && messages[messages.length - 1].local === 'pending';
    if (this.firstRender && conv.loaded) {
      this.firstRender = false;
      this.scrollToBottom(false);
    } else if (atBottom || newestMine) {
      this.scrollToBottom(false);
    } else if (anchor && anchor.el.isConnected) {
      this.scroller.scrollTop = anchor.el.offsetTop - anchor.offset;
      const last = messages[messages.length - 1];
      if (last && this.lastSeenKey && messageKey(last) !== this.lastSeenKey) this.jump.hidden = false;
    }
    if (messages.length) this.lastSeenKey = messageKey(messages[messages.length - 1]);

    this.renderPinned();
    this.renderTyping();
    // A short first page that does not fill the screen: fetch more.
    if (conv.loaded && conv.hasMore && !conv.loading && this.scroller.scrollHeight <= this.scroller.clientHeight + 10) {
      this.loadOlder();
    }
  }

  isNearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  anchor() {
    const top = this.scroller.scrollTop;
    for (const li of this.list.children) {
      if (li.offsetTop + li.offsetHeight > top) return { el: li, offset: li.offsetTop - top };
    }
    return null;
  }

  scrollToBottom(smooth) {
    this.scroller.scrollTo({ top: this.scroller.scrollHeight, behavior: smooth ? 'smooth' : 'auto' });
    this.jump.hidden = true;
  }

  onScroll() {
    if (this.scroller.scrollTop < NEAR_TOP_PX) this.loadOlder();
    if (this.isNearBottom()) this.jump.hidden = true;
  }

  loadOlder() {
    this.client.loadOlder(this.chatId).catch(() => this.toast('Could not load older messages'));
  }

  reveal(messageId) {
    const conv = this.store.conversation(this.chatId);
    const key = conv.keyById.get(messageId);
    const li = key && this.nodes.get(key);
    if (!li) {
      this.toast('That message is further back in the history');
      return;
    }
    li.scrollIntoView({ block: 'center', behavior: 'smooth' });
    li.classList.remove('flash');
    void li.offsetWidth;
    li.classList.add('flash');
    li.parts.toggle.focus({ preventScroll: true });
  }

  // -- reading -----------------------------------------------------------------

  track(li, m, conv) {
    const mine = this.store.me && m.senderId === this.store.me.id;
    if (!mine && m.id && m.seq > conv.readUpToSeq) this.observer.observe(li);
    else this.observer.unobserve(li);
  }

  onIntersect(entries) {
    for (const entry of entries) {
      const key = entry.target.dataset.key;
      if (entry.isIntersecting) this.visible.add(key);
      else this.visible.delete(key);
    }
    this.flushReads();
  }

  /** Read-up-to the newest message of others that is on screen. */
  flushReads() {
    if (document.visibilityState !== 'visible') return;
    let newest = null;
    for (const key of this.visible) {
      const li = this.nodes.get(key);
      const m = li && li.message;
      if (m && m.id && (!newest || m.seq > newest.seq)) newest = m;
    }
    if (!newest) return;
    this.client.markRead(newest);
    const conv = this.store.conversation(this.chatId);
    for (const key of [...this.visible]) {
      const li = this.nodes.get(key);
      if (!li || !(li.message.seq > conv.readUpToSeq)) {
        this.visible.delete(key);
        if (li) this.observer.unobserve(li);
      }
    }
  }

  // -- message actions -------------------------------------------------------

  onListClick(event) {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const li = button.closest('li.msg');
    const message = li && li.message;
    if (!message) return;
    const action = button.dataset.action;
    if (action === 'menu') this.toggleMenu(li, button);
    else if (action === 'retry') this.client.retry(message);
    else if (action === 'goto-reply') this.reveal(button.dataset.target);
  }

  onListKey(event) {
    if (!this.menu) return;
    const items = [...this.menu.querySelectorAll('[role="menuitem"]')];
    const i = items.indexOf(document.activeElement);
    if (event.key === 'Escape') {
      event.preventDefault();
      this.closeMenu(true);
    } else if (event.key === 'ArrowDown') {
      event.preventDefault();
      items[(i + 1) % items.length].focus();
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      items[(i - 1 + items.length) % items.length].focus();
    } else if (event.key === 'Home') {
      event.preventDefault();
      items[0].focus();
    } else if (event.key === 'End') {
      event.preventDefault();
      items[items.length - 1].focus();
    } else if (event.key === 'Tab') {
      this.closeMenu(false);
    }
  }

  toggleMenu(li, toggle) {
    const wasOpenHere = this.menu && this.menu.parentElement === li;
    this.closeMenu(false);
    if (wasOpenHere) return;
    const m = li.message;
    const mine = this.store.me && m.senderId === this.store.me.id;
    const item = (label, testid, fn) =>
      h('button', { type: 'button', role: 'menuitem', tabindex: '-1', 'data-testid': testid, onclick: fn }, label);
    const entries = [
      item('Reply', 'action-reply', () => { this.closeMenu(false); this.setMode({ type: 'reply', message: m }); }),
      item('Forward…', 'action-forward', () => { this.closeMenu(false); this.forward(m, toggle); }),
      m.isPinned
        ? item('Unpin', 'action-unpin', () => { this.closeMenu(true); this.run(() => this.client.unpin(m), 'Unpinned'); })
        : item('Pin', 'action-pin', () => { this.closeMenu(true); this.run(() => this.client.pin(m), 'Pinned'); }),
    ];
    if (mine) {
      entries.push(item('Edit', 'action-edit', () => { this.closeMenu(false); this.setMode({ type: 'edit', message: m }); }));
      const del = item('Delete', 'action-delete', () => {
        if (del.dataset.confirm) {
          this.closeMenu(false);
          this.input.focus();
          this.run(() => this.client.remove(m), 'Message deleted');
        } else {
          del.dataset.confirm = '1';
          del.textContent = 'Delete for everyone?';
          del.classList.add('danger');
          del.focus();
        }
      });
      entries.push(del);
    }
    this.menu = h('div', { class: 'menu', role: 'menu', 'aria-label': 'Message actions', 'data-testid': 'message-menu' }, entries);
    li.append(this.menu);
    // Near the bottom of the history: open upwards so the menu stays in view.
    const room = this.scroller.getBoundingClientRect().bottom - li.getBoundingClientRect().bottom;
    this.menu.classList.toggle('up', room < this.menu.offsetHeight + 8);
    li.classList.add('menu-open');
    toggle.setAttribute('aria-expanded', 'true');
    this.menuToggle = toggle;
    entries[0].focus();
  }

  closeMenu(restoreFocus) {
    if (!this.menu) return;
    const toggle = this.menuToggle;
    this.menu.parentElement?.classList.remove('menu-open');
    this.menu.remove();
    this.menu = null;
    this.menuToggle = null;
    if (toggle) {
      toggle.setAttribute('aria-expanded', 'false');
      if (restoreFocus && toggle.isConnected) toggle.focus();
    }
  }

  async run(fn, done) {
    try {
      await fn();
      if (done) announce(done);
    } catch (err) {
      this.toast(err.code === 'rate_limited' ? 'Slow down a little and try again.' : err.message || 'That did not work');
    }
  }

  async forward(message, returnFocus) {
    const chats = this.store.chatList();
    const target = await openForwardDialog(this.store, chats, message);
    returnFocus?.focus();
    if (!target) return;
    await this.run(async () => {
      await this.client.forward(message, target.id);
      this.toast(`Forwarded to ${this.store.chatTitle(target)}`);
    });
  }

  async leave() {
    await this.run(() => this.client.leaveChat(this.chatId), 'You left the chat');
  }

  // -- composer ----------------------------------------------------------------

  setMode(mode) {
    this.mode = mode;
    this.context.hidden = !mode;
    this.form.classList.toggle('editing', mode?.type === 'edit');
    if (!mode) {
      this.context.dataset.mode = '';
      if (this.editingDraft !== undefined) {
        this.input.value = this.editingDraft;
        this.editingDraft = undefined;
      }
    } else if (mode.type === 'reply') {
      this.context.dataset.mode = 'reply';
      const who = displayName(this.store.user(mode.message.senderId));
      this.contextText.textContent = `Replying to ${who}: ${summary(mode.message, 80)}`;
    } else {
      this.context.dataset.mode = 'edit';
      this.contextText.textContent = 'Editing message';
      this.editingDraft = this.input.value;
      this.input.value = mode.message.body || '';
    }
    this.sendButton.setAttribute('aria-label', mode?.type === 'edit' ? 'Save' : 'Send');
    this.autosize();
    this.input.focus();
  }

  onComposerKey(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.submit();
    } else if (event.key === 'Escape' && this.mode) {
      event.preventDefault();
      this.setMode(null);
    } else if (event.key === 'ArrowUp' && !this.input.value && !this.mode) {
      const mine = this.store.conversation(this.chatId).list()
        .filter((m) => m.id && !m.deletedAt && this.store.me && m.senderId === this.store.me.id);
      if (mine.length) {
        event.preventDefault();
        this.setMode({ type: 'edit', message: mine[mine.length - 1] });
      }
    }
  }

  onComposerInput() {
    this.autosize();
    if (this.input.value.trim() && this.mode?.type !== 'edit') this.client.typing(this.chatId);
  }

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }

  // -- attachments -------------------------------------------------------------

  onPaste(event) {
    const files = event.clipboardData?.files;
    if (!files || !files.length) return;
    event.preventDefault();
    this.addFiles(files);
  }

  /** Start uploading each file now; the message names them once sent. */
  addFiles(fileList) {
    for (const file of [...fileList]) {
      const bar = h('progress', { max: '1', value: '0', 'data-testid': 'upload-progress', 'aria-label': `Uploading ${file.name}` });
      const remove = h('button', { type: 'button', class: 'icon', 'aria-label': `Remove ${file.name}`, 'data-testid': 'pending-remove' }, icon('close', { size: 14 }));
      const item = h('li', { class: 'pending-file', 'data-testid': 'pending-attachment', 'data-state': 'uploading' },
        h('span', { class: 'file-name' }, file.name || 'file'),
        h('span', { class: 'file-size' }, formatBytes(file.size)),
        bar, remove);
      const upload = { file, item, bar, state: 'uploading', attachment: null };
      remove.addEventListener('click', () => {
        this.uploads = this.uploads.filter((u) => u !== upload);
        item.remove();
        this.pendingList.hidden = this.uploads.length === 0;
      });
      upload.promise = uploadAttachment(this.chatId, file, (fraction) => {
        bar.value = fraction;
      }).then((attachment) => {
        upload.state = 'done';
        upload.attachment = attachment;
        item.dataset.state = 'done';
      }, (err) => {
        upload.state = 'failed';
        item.dataset.state = 'failed';
        item.title = err.message || 'Upload failed';
        this.toast(`${file.name}: ${err.message || 'upload failed'}`);
      });
      this.uploads.push(upload);
      this.pendingList.append(item);
    }
    this.pendingList.hidden = this.uploads.length === 0;
    this.input.focus();
  }

  clearUploads() {
    this.uploads = [];
    this.pendingList.replaceChildren();
    this.pendingList.hidden = true;
  }

  async submit() {
    const text = this.input.value;
    const mode = this.mode;
    if (mode?.type !== 'edit' && this.uploads.length) {
      this.input.value = '';
      if (mode) this.setMode(null);
      this.autosize();
      const uploads = this.uploads;
      this.clearUploads();
      await Promise.all(uploads.map((u) => u.promise));
      const attachments = uploads.filter((u) => u.state === 'done').map((u) => u.attachment);
      if (!text.trim() && !attachments.length) return;
      this.client.send(this.chatId, text, { replyToId: mode?.type === 'reply' ? mode.message.id : undefined, attachments });
      this.scrollToBottom(false);
      return;
    }
    if (!text.trim()) return;
    if (mode?.type === 'edit') {
      const message = mode.message;
      this.editingDraft = undefined;
      this.input.value = '';
      this.setMode(null);
      if (text.trim() !== (message.body || '').trim()) this.run(() => this.client.edit(message, text.trim()), 'Message edited');
      return;
    }
    this.client.send(this.chatId, text, { replyToId: mode?.type === 'reply' ? mode.message.id : undefined });
    this.input.value = '';
    if (mode) this.setMode(null);
    this.autosize();
    this.input.focus();
    this.scrollToBottom(false);
  }
}

export function emptyChatView() {
  return h('section', { class: 'chat empty-chat', 'data-testid': 'no-chat' },
    h('div', {},
      h('h2', {}, 'Pick a chat'),
      h('p', {}, 'Choose a conversation on the left, start a new one, or say hello to someone who is online.')));
}
