// Client state: users, chats, each chat's messages, typing, connection.
// Views subscribe to topics; nothing here touches the DOM or the network.

const STATUS_RANK = { SENT: 1, DELIVERED: 2, READ: 3 };

export function statusRank(status) {
  return STATUS_RANK[status] || 0;
}

/** Statuses only move forward (SENT -> DELIVERED -> READ). */
export function laterStatus(a, b) {
  return statusRank(b) > statusRank(a) ? b : a || b;
}

/** One key per message for its whole life, optimistic copy included. */
export function messageKey(m) {
  return m.clientMessageId ? `c:${m.senderId}:${m.clientMessageId}` : `i:${m.id}`;
}

function compareMessages(a, b) {
  const as = Number.isFinite(a.seq) ? a.seq : Infinity;
  const bs = Number.isFinite(b.seq) ? b.seq : Infinity;
  if (as !== bs) return as - bs;
  return String(a.createdAt).localeCompare(String(b.createdAt));
}

/** Members may come as users, as {user}, or as {userId}; keep users. */
function normalizeMembers(members) {
  return (members || [])
    .map((m) => {
      if (typeof m === 'string') return { id: m };
      if (m && m.user) return { ...m.user };
      if (m && !m.id && m.userId) return { ...m, id: m.userId };
      return m;
    })
    .filter((m) => m && m.id);
}

class Conversation {
  constructor(chatId) {
    this.chatId = chatId;
    this.byKey = new Map();
    this.keyById = new Map();
    this.loaded = false; // first page fetched
    this.loading = false;
    this.nextBefore = undefined; // null: nothing older
    this.pinned = new Map(); // id -> message
    this.pinsLoaded = false;
    this.readUpToSeq = 0; // highest seq we told the server we read
  }

  get(idOrKey) {
    const key = this.keyById.get(idOrKey) || idOrKey;
    return this.byKey.get(key);
  }

  list() {
    return [...this.byKey.values()].sort(compareMessages);
  }

  get hasMore() {
    return this.nextBefore !== null;
  }
}

export class Store {
  constructor() {
    this.me = null;
    this.users = new Map();
    this.chats = new Map();
    this.conversations = new Map();
    this.typing = new Map(); // chatId -> Map(userId -> expiresAt)
    // message:status frames for ids we do not hold yet: a send's receipts can
    // arrive before its ack (the server pushes them while handling the send).
    this.earlyStatus = new Map(); // messageId -> [{status, userId}]
    this.onlineIds = new Set();
    this.connection = 'connecting';
    this.openChatId = null;
    this.listeners = new Map();
  }

  // -- subscriptions ------------------------------------------------------

  on(topic, fn) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
    this.listeners.get(topic).add(fn);
    return () => this.listeners.get(topic).delete(fn);
  }

  emit(topic, detail) {
    for (const fn of this.listeners.get(topic) || []) fn(detail);
  }

  // -- users ---------------------------------------------------------------

  setMe(user) {
    this.me = user;
    this.upsertUser(user);
  }

  user(id) {
    return this.users.get(id);
  }

  upsertUser(user) {
    if (!user || !user.id) return null;
    const merged = { ...(this.users.get(user.id) || {}), ...user };
    this.users.set(user.id, merged);
    if (merged.online) this.onlineIds.add(user.id);
    else if (merged.online === false) this.onlineIds.delete(user.id);
    this.emit('users', user.id);
    return merged;
  }

  /** `users:update` {userId, online, lastSeenAt} */
  setPresence({ userId, online, lastSeenAt }) {
    const known = this.users.get(userId);
    this.upsertUser({ ...(known || {}), id: userId, online: !!online, lastSeenAt: lastSeenAt ?? known?.lastSeenAt });
    return !!known;
  }

  onlineUsers() {
    return [...this.onlineIds]
      .filter((id) => !this.me || id !== this.me.id)
      .map((id) => this.users.get(id))
      .filter((u) => u && u.username)
      .sort((a, b) => (a.displayName || a.username).localeCompare(b.displayName || b.username));
  }

  // -- chats ---------------------------------------------------------------

  upsertChat(raw) {
    if (!raw || !raw.id) return null;
    const prev = this.chats.get(raw.id) || {};
    const chat = { ...prev, ...raw };
    if (raw.members) {
      chat.members = normalizeMembers(raw.members);
      for (const m of chat.members) if (m.username) this.upsertUser(m);
      chat.memberIds = chat.members.map((m) => m.id);
    }
    if (raw.lastMessage === undefined && prev.lastMessage) chat.lastMessage = prev.lastMessage;
    if (typeof chat.unreadCount !== 'number') chat.unreadCount = 0;
    this.chats.set(chat.id, chat);
    if (chat.lastMessage) this.upsertMessage(chat.lastMessage, { quiet: true, onlyIfLoaded: true });
    this.emit('chats');
    this.emit(`chat:${chat.id}`);
    return chat;
  }

  setChats(list) {
    const seen = new Set();
    for (const chat of list) {
      this.upsertChat(chat);
      seen.add(chat.id);
    }
    for (const id of [...this.chats.keys()]) if (!seen.has(id)) this.chats.delete(id);
    this.emit('chats');
  }

  removeChat(chatId) {
    this.chats.delete(chatId);
    this.conversations.delete(chatId);
    this.emit('chats');
    this.emit(`chat:${chatId}`);
  }

  chat(id) {
    return this.chats.get(id);
  }

  /** The other member of a direct chat. */
  peer(chat) {
    if (!chat || chat.type !== 'direct') return null;
    const other = (chat.memberIds || []).find((id) => !this.me || id !== this.me.id);
    return other ? this.users.get(other) || { id: other } : null;
  }

  chatTitle(chat) {
    if (!chat) return '';
    if (chat.type === 'direct') {
      const peer = this.peer(chat);
      if (peer && (peer.displayName || peer.username)) return peer.displayName || peer.username;
    }
    if (chat.title) return chat.title;
    const names = (chat.memberIds || [])
      .filter((id) => !this.me || id !== this.me.id)
      .map((id) => this.users.get(id))
      .filter(Boolean)
      .map((u) => u.displayName || u.username);
    return names.join(', ') || 'Chat';
  }

  activityOf(chat) {
    const t = (chat.lastMessage && chat.lastMessage.createdAt) || chat.lastMessageAt || chat.createdAt;
    const ms = t ? Date.parse(t) : 0;
    return Number.isNaN(ms) ? 0 : ms;
  }

  /** Newest activity first. */
  chatList() {
    return [...this.chats.values()].sort((a, b) => this.activityOf(b) - this.activityOf(a));
  }

  // -- messages ------------------------------------------------------------

  conversation(chatId) {
    if (!this.conversations.has(chatId)) this.conversations.set(chatId, new Conversation(chatId));
    return this.conversations.get(chatId);
  }

  findMessage(id) {
    for (const conv of this.conversations.values()) {
      const m = conv.get(id) || conv.pinned.get(id);
      if (m) return m;
    }
    return null;
  }

  /**
   * Insert or update a message; the optimistic copy and the stored one share
   * a key. Statuses never go back. Returns the merged message.
   */
  upsertMessage(msg, { quiet = false, onlyIfLoaded = false } = {}) {
    if (!msg || !msg.chatId) return null;
    const conv = this.conversation(msg.chatId);
    const key = (msg.id && conv.keyById.get(msg.id)) || messageKey(msg);
    const prev = conv.byKey.get(key);
    if (!prev && onlyIfLoaded && !conv.loaded) return null;
    let merged = msg;
    if (prev) {
      merged = { ...prev, ...msg, status: laterStatus(prev.status, msg.status) };
      if (msg.id) delete merged.local; // the server has it now
      if (prev.receipts || msg.receipts) merged.receipts = { ...prev.receipts, ...msg.receipts };
    }
    const early = merged.id && this.earlyStatus.get(merged.id);
    if (early) {
      this.earlyStatus.delete(merged.id);
      for (const update of early) merged = this.foldStatus(merged, update);
    }
    conv.byKey.set(key, merged);
    if (merged.id) conv.keyById.set(merged.id, key);
    if (merged.isPinned && merged.id) conv.pinned.set(merged.id, merged);
    else if (merged.id && conv.pinned.has(merged.id) && msg.isPinned === false) conv.pinned.delete(merged.id);
    else if (merged.id && conv.pinned.has(merged.id)) conv.pinned.set(merged.id, merged);

    const chat = this.chats.get(msg.chatId);
    if (chat && (Number.isFinite(merged.seq) || merged.local)) {
      const last = chat.lastMessage;
      // By seq; a message still on its way has none yet, so by time.
      const newer = Number.isFinite(last?.seq) && Number.isFinite(merged.seq)
        ? merged.seq >= last.seq
        : Date.parse(merged.createdAt) >= Date.parse(last?.createdAt);
      if (!last || messageKey(last) === messageKey(merged) || (last.id && last.id === merged.id) || newer) {
        chat.lastMessage = merged;
        if (!quiet) this.emit('chats');
      }
    }
    if (!quiet) this.emit(`messages:${msg.chatId}`);
    return merged;
  }

  /** A history page (newest first, as the API sends it). */
  addPage(chatId, { messages, nextBefore }, { replace = false } = {}) {
    const conv = this.conversation(chatId);
    if (replace) {
      const pendings = conv.list().filter((m) => m.local);
      // Messages that arrived live while the page was on its way are newer than it.
      const newest = Math.max(0, ...messages.map((m) => m.seq || 0));
      const arrived = conv.list().filter((m) => !m.local && m.id && m.seq > newest);
      conv.byKey.clear();
      conv.keyById.clear();
      for (const p of pendings) conv.byKey.set(messageKey(p), p);
      for (const m of arrived) this.upsertMessage(m, { quiet: true });
    }
    for (const m of messages) this.upsertMessage(m, { quiet: true });
    if (!conv.loaded || replace || conv.nextBefore !== null) conv.nextBefore = nextBefore;
    conv.loaded = true;
    this.emit(`messages:${chatId}`, { page: true });
    this.emit('chats');
  }

  /** `message:status` {messageId, chatId, status, userId?} */
  applyStatus({ messageId, chatId, status, userId }) {
    const conv = chatId ? this.conversation(chatId) : null;
    const msg = conv ? conv.get(messageId) : this.findMessage(messageId);
    if (!msg) {
      if (!this.earlyStatus.has(messageId)) this.earlyStatus.set(messageId, []);
      this.earlyStatus.get(messageId).push({ status, userId });
      if (this.earlyStatus.size > 500) this.earlyStatus.delete(this.earlyStatus.keys().next().value);
      return;
    }
    this.upsertMessage(this.foldStatus(msg, { status, userId }));
  }

  /** A message with one status update applied (statuses only move forward). */
  foldStatus(msg, { status, userId }) {
    const update = { ...msg };
    if (userId) {
      update.receipts = { ...(msg.receipts || {}), [userId]: laterStatus(msg.receipts?.[userId], status) };
      const chat = this.chats.get(msg.chatId);
      // In a direct chat the one recipient's status is the aggregate.
      if (chat && chat.type === 'direct') update.status = laterStatus(msg.status, status);
    } else {
      update.status = laterStatus(msg.status, status);
    }
    return update;
  }

  setPins(chatId, list) {
    const conv = this.conversation(chatId);
    conv.pinned = new Map(list.filter((m) => m && m.id).map((m) => [m.id, conv.get(m.id) ? { ...conv.get(m.id), ...m } : m]));
    conv.pinsLoaded = true;
    this.emit(`messages:${chatId}`);
  }

  pinnedList(chatId) {
    const conv = this.conversation(chatId);
    return [...conv.pinned.values()]
      .filter((m) => m.isPinned !== false && !m.deletedAt)
      .sort((a, b) => String(a.pinnedAt || '').localeCompare(String(b.pinnedAt || '')) || (a.seq ?? 0) - (b.seq ?? 0));
  }

  // -- unread / read ------------------------------------------------------

  incrementUnread(chatId) {
    const chat = this.chats.get(chatId);
    if (!chat) return;
    chat.unreadCount = (chat.unreadCount || 0) + 1;
    this.emit('chats');
  }

  /** We read up to `seq`: recompute what is still unread from what we hold. */
  markReadLocally(chatId, seq) {
    const conv = this.conversation(chatId);
    conv.readUpToSeq = Math.max(conv.readUpToSeq, seq);
    const chat = this.chats.get(chatId);
    if (!chat) return;
    const newer = conv.list().filter((m) => m.seq > seq && this.me && m.senderId !== this.me.id).length;
    chat.unreadCount = Math.min(chat.unreadCount || 0, newer);
    this.emit('chats');
  }

  // -- typing ----------------------------------------------------------------

  setTyping(chatId, userId, until) {
    if (!this.typing.has(chatId)) this.typing.set(chatId, new Map());
    const map = this.typing.get(chatId);
    if (until) map.set(userId, until);
    else map.delete(userId);
    this.emit(`typing:${chatId}`);
    this.emit('chats');
  }

  typers(chatId, now = Date.now()) {
    const map = this.typing.get(chatId);
    if (!map) return [];
    return [...map.entries()].filter(([, until]) => until > now).map(([id]) => this.users.get(id) || { id });
  }

  // -- connection ------------------------------------------------------------

  setConnection(state) {
    this.connection = state;
    this.emit('connection', state);
  }
}
