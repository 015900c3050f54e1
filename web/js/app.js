// Parley in the browser: sign in, then the chat list and the open chat.
// Routes: #/ (chat list), #/chat/<id>.

import * as api from './api.js';
import { Client } from './client.js';
import { announce, h } from './lib/dom.js';
import { displayName, snippet } from './lib/format.js';
import * as session from './session.js';
import { renderAuth } from './views/auth.js';
import { ChatView, emptyChatView } from './views/chat.js';
import { openNewChatDialog } from './views/dialogs.js';
import { Sidebar } from './views/sidebar.js';

const root = document.getElementById('app');
let app = null;

class App {
  constructor(user) {
    this.client = new Client({
      onSignedOut: () => signedOut(),
      onIncoming: (m) => this.incoming(m),
    });
    this.store = this.client.store;
    this.store.setMe(user);
    this.chatView = null;
    this.toastTimer = null;

    this.sidebar = new Sidebar(this.client, {
      onOpenChat: (id) => navigate(`#/chat/${encodeURIComponent(id)}`),
      onNewChat: () => this.newChat(),
      onSignOut: () => this.signOut(),
      onError: (err) => this.toast(err.message || 'That did not work'),
    });
    this.main = h('main', { class: 'main', id: 'main' });
    this.toastEl = h('div', { class: 'toast', role: 'status', 'data-testid': 'toast', hidden: true });
    this.el = h('div', { class: 'shell' }, this.sidebar.el, this.main, this.toastEl);
    root.replaceChildren(this.el);

    this.onHash = () => this.route();
    window.addEventListener('hashchange', this.onHash);
    this.unsubscribe = [this.store.on('chats', () => this.updateTitle())];
    // For tests and debugging: drop the socket as a network failure would.
    window.parley = { client: this.client, dropConnection: () => this.client.socket.drop() };

    this.client.start(user).catch((err) => this.toast(err.message || 'Could not load your chats'));
    this.route();
  }

  destroy() {
    window.removeEventListener('hashchange', this.onHash);
    for (const off of this.unsubscribe) off();
    this.chatView?.destroy();
    this.sidebar.destroy();
    this.client.stop();
    delete window.parley;
  }

  route() {
    const match = /^#\/chat\/(.+)$/.exec(window.location.hash);
    const chatId = match ? decodeURIComponent(match[1]) : null;
    if (this.routed && chatId === (this.chatView ? this.chatView.chatId : null)) return;
    this.routed = true;
    this.chatView?.destroy();
    this.chatView = null;
    this.sidebar.setActive(chatId);
    this.el.classList.toggle('chat-open', !!chatId);
    if (!chatId) {
      this.client.closeChat();
      this.main.replaceChildren(emptyChatView());
      return;
    }
    const view = new ChatView(this.client, chatId, {
      onBack: () => navigate('#/'),
      toast: (text) => this.toast(text),
    });
    this.chatView = view;
    this.main.replaceChildren(view.el);
    view.focusComposer();
    this.client.openChat(chatId).catch((err) => {
      if (this.chatView !== view) return;
      this.toast(err.status === 404 || err.status === 403 ? 'That chat is not available.' : err.message);
      if (err.status === 404 || err.status === 403) navigate('#/');
    });
  }

  incoming(message) {
    const chat = this.store.chat(message.chatId);
    const who = displayName(this.store.user(message.senderId));
    const where = chat && chat.type === 'group' ? ` in ${this.store.chatTitle(chat)}` : '';
    announce(`New message from ${who}${where}: ${snippet(message.body, 120)}`);
  }

  updateTitle() {
    const unread = this.store.chatList().reduce((n, c) => n + (c.unreadCount || 0), 0);
    document.title = unread ? `(${unread}) Parley` : 'Parley';
  }

  toast(text) {
    this.toastEl.textContent = text;
    this.toastEl.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => {
      this.toastEl.hidden = true;
    }, 4000);
  }

  async newChat() {
    const spec = await openNewChatDialog(this.client);
    if (!spec) return;
    try {
      const chat = await this.client.createChat(spec);
      navigate(`#/chat/${encodeURIComponent(chat.id)}`);
    } catch (err) {
      this.toast(err.message || 'Could not start the chat');
    }
  }

  async signOut() {
    this.destroy();
    app = null;
    try {
      await api.logout();
    } catch {
      /* the local session is gone either way */
    }
    showAuth();
  }
}

function navigate(hash) {
  if (window.location.hash === hash) app?.route();
  else window.location.hash = hash;
}

function showAuth() {
  document.title = 'Parley';
  renderAuth(root, {
    onSignedIn: (user) => {
      app = new App(user || session.get().user);
    },
  });
}

function signedOut() {
  if (app) {
    app.destroy();
    app = null;
  }
  session.clear();
  showAuth();
}

// Signed out in another tab.
session.onChange((s) => {
  if (!s && app) signedOut();
});

function boot() {
  const s = session.get();
  if (s && s.user) app = new App(s.user);
  else showAuth();
}

boot();
