// The left pane: who I am, the connection, my chats, who is online.

import { h, reconcile } from '../lib/dom.js';
import { displayName, shortStamp, summary } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import { avatar } from './avatar.js';

const CONNECTION_TEXT = { connecting: 'Connecting…', online: 'Online', offline: 'Offline' };

export class Sidebar {
  constructor(client, { onOpenChat, onNewChat, onSignOut, onError }) {
    this.client = client;
    this.onError = onError || (() => {});
    this.store = client.store;
    this.onOpenChat = onOpenChat;
    this.items = new Map();
    this.activeChatId = null;
    this.tab = 'chats';

    const me = this.store.me;
    this.connection = h('span', { class: 'connection', 'data-testid': 'connection-state', role: 'status' });
    this.meName = h('span', { class: 'me-name', 'data-testid': 'me-name' }, displayName(me));
    this.chatList = h('ul', { class: 'chat-list', 'data-testid': 'chat-list', 'aria-label': 'Chats' });
    this.chatEmpty = h('p', { class: 'empty' }, 'No chats yet. Start one with “New chat”, or pick someone who is online.');
    this.onlineList = h('ul', { class: 'user-list', 'data-testid': 'online-users', 'aria-label': 'Users online' });
    this.onlineEmpty = h('p', { class: 'empty' }, 'Nobody else is online right now.');
    this.onlineCount = h('span', { class: 'count', 'data-testid': 'online-count' });

    this.tabChats = h('button', {
      type: 'button', role: 'tab', id: 'tab-chats', 'aria-controls': 'panel-chats', 'data-testid': 'tab-chats',
      onclick: () => this.selectTab('chats'),
    }, 'Chats');
    this.tabOnline = h('button', {
      type: 'button', role: 'tab', id: 'tab-online', 'aria-controls': 'panel-online', 'data-testid': 'tab-online',
      onclick: () => this.selectTab('online'),
    }, 'Online ', this.onlineCount);
    const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Lists' }, this.tabChats, this.tabOnline);
    tablist.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        this.selectTab(this.tab === 'chats' ? 'online' : 'chats');
        (this.tab === 'chats' ? this.tabChats : this.tabOnline).focus();
      }
    });
    this.panelChats = h('div', { id: 'panel-chats', role: 'tabpanel', 'aria-labelledby': 'tab-chats', class: 'panel' },
      this.chatList, this.chatEmpty);
    this.panelOnline = h('div', { id: 'panel-online', role: 'tabpanel', 'aria-labelledby': 'tab-online', class: 'panel' },
      this.onlineList, this.onlineEmpty);

    this.el = h('aside', { class: 'sidebar', 'aria-label': 'Chats and people' },
      h('header', { class: 'sidebar-header' },
        avatar(displayName(me), { seed: me.id }),
        h('div', { class: 'me' }, this.meName, this.connection),
        h('button', { type: 'button', class: 'icon', 'data-testid': 'new-chat', 'aria-label': 'New chat', title: 'New chat', onclick: onNewChat }, icon('edit')),
        h('button', { type: 'button', class: 'icon', 'data-testid': 'sign-out', 'aria-label': 'Sign out', title: 'Sign out', onclick: onSignOut }, icon('signOut'))),
      tablist,
      this.panelChats,
      this.panelOnline);

    this.unsubscribe = [
      this.store.on('chats', () => this.scheduleRender()),
      this.store.on('users', () => this.scheduleRender()),
      this.store.on('connection', () => this.renderConnection()),
    ];
    this.selectTab('chats');
    this.renderConnection();
    this.render();
  }

  destroy() {
    for (const off of this.unsubscribe) off();
  }

  selectTab(tab) {
    this.tab = tab;
    const chats = tab === 'chats';
    this.tabChats.setAttribute('aria-selected', String(chats));
    this.tabOnline.setAttribute('aria-selected', String(!chats));
    this.tabChats.tabIndex = chats ? 0 : -1;
    this.tabOnline.tabIndex = chats ? -1 : 0;
    this.panelChats.hidden = !chats;
    this.panelOnline.hidden = chats;
    if (!chats) this.client.loadOnline().catch(() => {});
  }

  setActive(chatId) {
    this.activeChatId = chatId;
    this.render();
  }

  renderConnection() {
    const state = this.store.connection;
    this.connection.dataset.state = state;
    this.connection.textContent = CONNECTION_TEXT[state] || state;
  }

  scheduleRender() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.render();
    });
  }

  render() {
    this.renderChats();
    this.renderOnline();
  }

  renderChats() {
    const store = this.store;
    const chats = store.chatList();
    const nodes = chats.map((chat) => {
      let item = this.items.get(chat.id);
      if (!item) {
        item = this.buildChatItem(chat.id);
        this.items.set(chat.id, item);
      }
      this.updateChatItem(item, chat);
      return item.li;
    });
    for (const id of [...this.items.keys()]) if (!store.chat(id)) this.items.delete(id);
    reconcile(this.chatList, nodes);
    this.chatEmpty.hidden = chats.length > 0;
  }

  buildChatItem(chatId) {
    const item = {
      avatarSlot: h('span', { class: 'avatar-slot' }),
      title: h('span', { class: 'title', 'data-testid': 'chat-item-title' }),
      time: h('span', { class: 'time' }),
      preview: h('span', { class: 'preview', 'data-testid': 'chat-item-preview' }),
      badge: h('span', { class: 'badge', 'data-testid': 'unread-count' }),
    };
    item.button = h('button', {
      type: 'button', class: 'chat-item', 'data-testid': 'chat-item', 'data-chat-id': chatId,
      onclick: () => this.onOpenChat(chatId),
    },
    item.avatarSlot,
    h('span', { class: 'lines' },
      h('span', { class: 'line' }, item.title, item.time),
      h('span', { class: 'line' }, item.preview, item.badge)));
    item.li = h('li', {}, item.button);
    return item;
  }

  updateChatItem(item, chat) {
    const store = this.store;
    const title = store.chatTitle(chat);
    const peer = store.peer(chat);
    const key = `${title}|${peer ? !!peer.online : 'g'}`;
    if (item.avatarKey !== key) {
      item.avatarKey = key;
      item.avatarSlot.replaceChildren(avatar(title, { seed: chat.id, online: peer ? !!peer.online : undefined, group: !peer }));
    }
    item.title.textContent = title;
    const last = chat.lastMessage;
    item.time.textContent = shortStamp(last ? last.createdAt : chat.createdAt);
    const typers = store.typers(chat.id);
    item.preview.classList.toggle('typing', typers.length > 0);
    if (typers.length) {
      item.preview.textContent = chat.type === 'direct' ? 'typing…' : `${displayName(typers[0])} is typing…`;
    } else if (last) {
      const mine = store.me && last.senderId === store.me.id;
      const body = last.deletedAt ? 'message deleted' : summary(last, 60);
      const who = mine ? 'You: ' : chat.type === 'group' ? `${displayName(store.user(last.senderId))}: ` : '';
      item.preview.textContent = `${who}${last.isForwarded ? '↪ ' : ''}${body}`;
    } else {
      item.preview.textContent = chat.type === 'group' ? `${(chat.memberIds || []).length} members` : 'No messages yet';
    }
    const unread = chat.unreadCount || 0;
    item.badge.textContent = unread > 99 ? '99+' : String(unread);
    item.badge.hidden = unread === 0;
    const active = chat.id === this.activeChatId;
    item.button.classList.toggle('active', active);
    if (active) item.button.setAttribute('aria-current', 'true');
    else item.button.removeAttribute('aria-current');
    item.button.setAttribute('aria-label',
      `${title}${peer ? (peer.online ? ', online' : ', offline') : ''}${unread ? `, ${unread} unread` : ''}. ${item.preview.textContent}`);
  }

  renderOnline() {
    const users = this.store.onlineUsers();
    this.onlineCount.textContent = users.length ? `(${users.length})` : '';
    this.userItems = this.userItems || new Map();
    const nodes = users.map((user) => {
      let item = this.userItems.get(user.id);
      if (!item) {
        item = {
          avatarSlot: h('span', { class: 'avatar-slot' }),
          name: h('span', { class: 'title' }),
          handle: h('span', { class: 'preview' }),
        };
        item.button = h('button', {
          type: 'button', class: 'user-item', 'data-testid': 'online-user', 'data-user-id': user.id,
          onclick: async () => {
            try {
              const chat = await this.client.directChatWith(user.id);
              this.onOpenChat(chat.id);
            } catch (err) {
              this.onError(err);
            }
          },
        }, item.avatarSlot, h('span', { class: 'lines' }, item.name, item.handle));
        item.li = h('li', {}, item.button);
        this.userItems.set(user.id, item);
      }
      const name = displayName(user);
      if (item.avatarKey !== name) {
        item.avatarKey = name;
        item.avatarSlot.replaceChildren(avatar(name, { seed: user.id, online: true }));
      }
      item.name.textContent = name;
      item.handle.textContent = `@${user.username}`;
      item.button.setAttribute('aria-label', `${name}, online. Open a direct chat`);
      return item.li;
    });
    const shown = new Set(users.map((u) => u.id));
    for (const id of [...this.userItems.keys()]) if (!shown.has(id)) this.userItems.delete(id);
    reconcile(this.onlineList, nodes);
    this.onlineEmpty.hidden = users.length > 0;
  }
}
