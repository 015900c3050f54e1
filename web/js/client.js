// What the user can do, wired to the REST API, the socket and the store;
// and what the server tells us, applied to the store.

import * as api from './api.js';
import { config } from './config.js';
import { uuid } from './lib/ids.js';
import { AckError, Socket } from './socket.js';
import { Store } from './store.js';

export class Client {
  constructor({ onSignedOut, onIncoming } = {}) {
    this.store = new Store();
    this.onSignedOut = onSignedOut || (() => {});
    this.onIncoming = onIncoming || (() => {});
    this.lastTypingSent = new Map(); // chatId -> ms
    this.typingTimers = new Map();
    this.onlineRefresh = null;
    this.pendingChatFetch = new Map();
    this.socket = new Socket({
      onFrame: (frame) => this.handleFrame(frame),
      onState: (state) => this.store.setConnection(state),
      onOpen: ({ reconnect }) => this.handleOpen(reconnect),
      onUnauthorized: () => this.onSignedOut(),
    });
  }

  async start(user) {
    this.store.setMe(user);
    this.socket.start();
    const [me] = await Promise.all([
      api.me().catch(() => null),
      this.loadChats(),
      this.loadOnline().catch(() => {}),
    ]);
    if (me) this.store.setMe({ ...me, online: true });
  }

  stop() {
    this.socket.stop();
  }

  // -- loading -------------------------------------------------------------

  async loadChats() {
    this.store.setChats(await api.chats());
  }

  async loadOnline() {
    const users = await api.users({ online: true });
    for (const id of [...this.store.onlineIds]) {
      if (!users.some((u) => u.id === id)) this.store.upsertUser({ id, online: false });
    }
    for (const u of users) this.store.upsertUser({ ...u, online: true });
  }

  searchUsers(query) {
    return api.users({ query });
  }

  /** First page of a chat, its pins; later calls do nothing. */
  async openChat(chatId) {
    this.store.openChatId = chatId;
    if (!this.store.chat(chatId)) {
      this.store.upsertChat(await api.chat(chatId));
    }
    const conv = this.store.conversation(chatId);
    const work = [];
    if (!conv.loaded && !conv.loading) work.push(this.loadPage(chatId, { replace: true }));
    if (!conv.pinsLoaded) work.push(api.pins(chatId).then((list) => this.store.setPins(chatId, list)));
    await Promise.all(work);
  }

  closeChat() {
    this.store.openChatId = null;
  }

  async loadPage(chatId, { replace = false } = {}) {
    const conv = this.store.conversation(chatId);
    if (conv.loading) return;
    conv.loading = true;
    this.store.emit(`messages:${chatId}`, { loading: true });
    try {
      const before = replace ? undefined : conv.nextBefore;
      const page = await api.messages(chatId, { before, limit: config.pageSize });
      this.store.addPage(chatId, page, { replace });
    } finally {
      conv.loading = false;
      this.store.emit(`messages:${chatId}`, { loading: false });
    }
  }

  loadOlder(chatId) {
    const conv = this.store.conversation(chatId);
    if (!conv.loaded || !conv.hasMore || conv.loading) return Promise.resolve();
    return this.loadPage(chatId);
  }

  /** After a reconnect: what changed while we were away. */
  async resync() {
    await this.loadChats().catch(() => {});
    this.loadOnline().catch(() => {});
    const open = this.store.openChatId;
    for (const [chatId, conv] of this.store.conversations) {
      if (!conv.loaded) continue;
      if (chatId !== open) {
        conv.loaded = false; // refetched when opened again
        conv.pinsLoaded = false;
        continue;
      }
      const page = await api.messages(chatId, { limit: config.pageSize }).catch(() => null);
      if (!page) continue;
      const newest = Math.max(0, ...conv.list().filter((m) => Number.isFinite(m.seq)).map((m) => m.seq));
      const oldestInPage = Math.min(...page.messages.map((m) => m.seq));
      // A gap between what we hold and the fresh page: start over from the page.
      this.store.addPage(chatId, page, { replace: page.nextBefore !== null && oldestInPage > newest + 1 });
      api.pins(chatId).then((list) => this.store.setPins(chatId, list)).catch(() => {});
    }
  }

  // -- sending -------------------------------------------------------------

  /** Optimistic send: shows at once, retried until the server stores it once. */
  send(chatId, body, { replyToId, attachments = [] } = {}) {
    const text = body.replace(/\s+$/, '');
    if (!text.trim() && !attachments.length) return null;
    const me = this.store.me;
    const draft = {
      id: null,
      chatId,
      seq: undefined,
      senderId: me.id,
      body: text,
      clientMessageId: uuid(),
      replyToId: replyToId || null,
      createdAt: new Date().toISOString(),
      status: null,
      local: 'pending',
      isPinned: false,
      isForwarded: false,
      attachments,
    };
    this.store.upsertMessage(draft);
    // The message ends the indicator on the other side; typing again shows it at once.
    this.lastTypingSent.delete(chatId);
    this.deliver(draft);
    return draft;
  }

  retry(message) {
    const again = { ...message, local: 'pending' };
    this.store.upsertMessage(again);
    this.deliver(again);
  }

  deliver(draft) {
    const data = { chatId: draft.chatId, body: draft.body, clientMessageId: draft.clientMessageId };
    if (draft.replyToId) data.replyToId = draft.replyToId;
    if (draft.attachments && draft.attachments.length) data.attachments = draft.attachments.map((a) => a.id);
    this.socket
      .request('message', data, { retry: true })
      .then((stored) => {
        if (stored && stored.id) this.store.upsertMessage({ ...stored, chatId: stored.chatId || draft.chatId });
      })
      .catch((err) => {
        this.store.upsertMessage({ ...draft, local: 'failed', error: err.message || err.code });
      });
  }

  /** Tell the server we read everything up to `message` in its chat. */
  markRead(message) {
    const conv = this.store.conversation(message.chatId);
    if (!message.id || !(message.seq > conv.readUpToSeq)) return;
    this.store.markReadLocally(message.chatId, message.seq);
    this.socket
      .request('message:read', { chatId: message.chatId, messageId: message.id }, { retry: true })
      .catch(() => {});
  }

  markDelivered(message) {
    this.socket
      .request('message:delivered', { chatId: message.chatId, messageId: message.id }, { queue: false })
      .catch(() => {});
  }

  /** `typing` at most every 2 s while the user types. */
  typing(chatId) {
    const now = Date.now();
    if (now - (this.lastTypingSent.get(chatId) || 0) < config.typingIntervalMs) return;
    this.lastTypingSent.set(chatId, now);
    this.socket.request('typing', { chatId }, { queue: false }).catch(() => {});
  }

  async pin(message) {
    const result = await this.socket.request('message:pin', { messageId: message.id });
    this.applyMessageUpdate(result, { ...message, isPinned: true, pinnedAt: new Date().toISOString() });
  }

  async unpin(message) {
    const result = await this.socket.request('message:unpin', { messageId: message.id });
    this.applyMessageUpdate(result, { ...message, isPinned: false });
  }

  async edit(message, body) {
    const result = await this.socket.request('message:edit', { messageId: message.id, body });
    this.applyMessageUpdate(result, { ...message, body, editedAt: new Date().toISOString() });
  }

  async remove(message) {
    const result = await this.socket.request('message:delete', { messageId: message.id });
    this.applyMessageUpdate(result, { ...message, deletedAt: new Date().toISOString() });
  }

  async forward(message, toChatId) {
    const result = await this.socket.request('message:forward', { messageId: message.id, toChatId });
    if (result && result.id) this.store.upsertMessage(result);
    return result;
  }

  applyMessageUpdate(result, fallback) {
    this.store.upsertMessage(result && result.id ? result : fallback);
  }

  async createChat({ type, memberIds, title }) {
    const chat = await api.createChat({ type, memberIds, title });
    return this.store.upsertChat(chat);
  }

  async directChatWith(userId) {
    const existing = this.store
      .chatList()
      .find((c) => c.type === 'direct' && (c.memberIds || []).includes(userId));
    if (existing) return existing;
    return this.createChat({ type: 'direct', memberIds: [userId] });
  }

  async leaveChat(chatId) {
    await this.socket.request('chat:leave', { chatId });
    this.store.removeChat(chatId);
  }

  async joinChat(chatId) {
    await this.socket.request('chat:join', { chatId });
    this.store.upsertChat(await api.chat(chatId));
  }

  // -- server frames ---------------------------------------------------------

  handleOpen(reconnect) {
    if (reconnect) this.resync();
  }

  handleFrame({ type, data }) {
    if (!data) return;
    const store = this.store;
    switch (type) {
      case 'message':
        this.receiveMessage(data);
        break;
      case 'message:status':
        store.applyStatus(data);
        break;
      case 'message:pinned':
      case 'message:unpinned':
      case 'message:edited':
      case 'message:deleted':
        this.receiveUpdate(type, data);
        break;
      case 'chat:member':
        this.memberChanged(data);
        break;
      case 'typing':
        this.receiveTyping(data);
        break;
      case 'users:update':
        this.presenceChanged(data);
        break;
      default:
        break;
    }
  }

  /** Fetch a chat we do not hold yet, once; resolves to the chat as fetched, or null. */
  async ensureChat(chatId) {
    if (this.store.chat(chatId) && !this.pendingChatFetch.has(chatId)) return null;
    if (!this.pendingChatFetch.has(chatId)) {
      this.pendingChatFetch.set(
        chatId,
        api
          .chat(chatId)
          .then((chat) => {
            this.store.upsertChat(chat);
            return chat;
          })
          .catch(() => null)
          .finally(() => this.pendingChatFetch.delete(chatId)),
      );
    }
    return this.pendingChatFetch.get(chatId);
  }

  async receiveMessage(message) {
    const store = this.store;
    const conv = store.conversation(message.chatId);
    const known = conv.get(message.id) || conv.byKey.get(`c:${message.senderId}:${message.clientMessageId}`);
    const mine = store.me && message.senderId === store.me.id;
    // While the first page loads, hold the message: the page may predate it.
    store.upsertMessage(message, { onlyIfLoaded: !conv.loaded && !conv.loading });
    if (!conv.loaded) {
      // Keep the chat list's last message without holding a partial history.
      const chat = store.chat(message.chatId);
      if (chat) {
        chat.lastMessage = message;
        store.emit('chats');
      }
    }
    if (mine || known) return;
    store.setTyping(message.chatId, message.senderId, 0);
    this.markDelivered(message);
    if (store.chat(message.chatId)) {
      store.incrementUnread(message.chatId);
    } else {
      // A chat we did not know yet: its unreadCount counts this message if
      // the server read it after the message was stored.
      const fetched = await this.ensureChat(message.chatId);
      const counted = fetched && fetched.lastMessage && fetched.lastMessage.seq >= message.seq;
      if (!counted) {
        const chat = store.chat(message.chatId);
        if (chat) chat.lastMessage = message;
        store.incrementUnread(message.chatId);
      }
    }
    this.onIncoming(message);
  }

  receiveUpdate(type, message) {
    const patch = { ...message };
    if (type === 'message:pinned') patch.isPinned = true;
    if (type === 'message:unpinned') patch.isPinned = false;
    const conv = this.store.conversation(message.chatId);
    if (conv.get(message.id) || conv.pinned.has(message.id) || type === 'message:pinned') {
      const prev = conv.get(message.id);
      if (!prev && type === 'message:pinned') {
        conv.pinned.set(message.id, patch);
        this.store.emit(`messages:${message.chatId}`);
      } else {
        this.store.upsertMessage(patch);
        if (type === 'message:unpinned') conv.pinned.delete(message.id);
      }
    }
    const chat = this.store.chat(message.chatId);
    if (chat && chat.lastMessage && chat.lastMessage.id === message.id) {
      chat.lastMessage = { ...chat.lastMessage, ...patch };
      this.store.emit('chats');
    }
  }

  async memberChanged({ chatId, userId, event }) {
    const me = this.store.me;
    if (event === 'left' && me && userId === me.id) {
      this.store.removeChat(chatId);
      return;
    }
    const known = this.store.chat(chatId);
    if (!known) {
      await this.ensureChat(chatId); // a chat someone just added us to
      return;
    }
    try {
      const chat = await api.chat(chatId);
      // Only the members changed; keep the unread count we track live.
      this.store.upsertChat({ ...chat, unreadCount: this.store.chat(chatId)?.unreadCount ?? chat.unreadCount });
    } catch {
      /* not ours any more */
    }
  }

  receiveTyping({ chatId, userId }) {
    if (!chatId || !userId || (this.store.me && userId === this.store.me.id)) return;
    const until = Date.now() + config.typingShownMs;
    this.store.setTyping(chatId, userId, until);
    const key = `${chatId}:${userId}`;
    clearTimeout(this.typingTimers.get(key));
    this.typingTimers.set(
      key,
      setTimeout(() => this.store.setTyping(chatId, userId, 0), config.typingShownMs + 50),
    );
  }

  presenceChanged(update) {
    const known = this.store.setPresence(update);
    if (!known || !this.store.user(update.userId)?.username) {
      // Someone we have not met: fetch the online list again, once in a while.
      clearTimeout(this.onlineRefresh);
      this.onlineRefresh = setTimeout(() => this.loadOnline().catch(() => {}), 300);
    }
  }
}

export { AckError };
