// The WebSocket connection (DESIGN §5): one module that owns it.
//
// - connects with ?token=<access JWT>, fresh enough not to expire mid-handshake;
// - a refused handshake (the browser only sees a close before open) may mean
//   an expired or revoked token: refresh the pair, then reconnect;
// - reconnects with exponential backoff and jitter, at once when the browser
//   comes back online or the tab becomes visible;
// - every frame with a requestId gets exactly one ack; `request()` returns a
//   promise for it. Frames sent while offline wait in an outbox and go out in
//   order on reconnect. Retryable frames (sends carry a clientMessageId, so
//   the server stores them once) survive a dropped connection and go out
//   again; the rest fail fast with code "disconnected";
// - pings on open (the first frame is when the server delivers what queued
//   while we were away) and every 30 s after (API Gateway drops idle
//   connections, and presence lapses without pings); a missing ack means a
//   dead connection;
// - keeps the connection's access token alive: whenever the session gets a
//   fresh one (session.js refreshes a minute before expiry, in this tab or
//   another), it is sent over the socket with `auth`. A frame answered
//   `token_expired` (the computer slept past the expiry) refreshes, sends
//   `auth`, then goes out again;
// - a `session:ended` frame (logout elsewhere, password change, revoked
//   sign-in) signs out: the server closes the socket right after it.

import { config } from './config.js';
import { uuid } from './lib/ids.js';
import * as session from './session.js';

export const CONNECTING = 'connecting';
export const ONLINE = 'online';
export const OFFLINE = 'offline';

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30000;
const MIN_REFRESH_GAP_MS = 15000;

export class AckError extends Error {
  constructor(code, message, extra = {}) {
    super(message || code);
    this.name = 'AckError';
    this.code = code;
    Object.assign(this, extra);
  }
}

export class Socket {
  /**
   * @param {{onFrame: (frame) => void, onState: (state) => void,
   *          onOpen?: (info: {reconnect: boolean}) => void,
   *          onUnauthorized?: () => void}} handlers
   */
  constructor({ onFrame, onState, onOpen, onUnauthorized }) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.onOpen = onOpen || (() => {});
    this.onUnauthorized = onUnauthorized || (() => {});
    this.state = OFFLINE;
    this.ws = null;
    this.outbox = []; // entries in send order: {frame, resolve, reject, retry, timer, sentOn}
    this.attempt = 0;
    this.everOpened = false;
    this.stopped = true;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.lastRefreshAt = 0;
    this.generation = 0;
    this.token = null; // the access token the open socket was opened or renewed with
    this.renewing = null;
    this.unsubscribeSession = null;

    this.handleOnline = () => this.connectNow();
    this.handleOffline = () => {
      if (this.ws) this.ws.close(4000, 'browser offline');
      this.dropSocket();
      this.setState(OFFLINE);
      this.scheduleReconnect();
    };
    this.handleVisible = () => {
      if (document.visibilityState === 'visible' && this.state !== ONLINE) this.connectNow();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribeSession = session.onChange((s) => this.sessionChanged(s));
    window.addEventListener('online', this.handleOnline);
    window.addEventListener('offline', this.handleOffline);
    document.addEventListener('visibilitychange', this.handleVisible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.unsubscribeSession) this.unsubscribeSession();
    this.unsubscribeSession = null;
    window.removeEventListener('online', this.handleOnline);
    window.removeEventListener('offline', this.handleOffline);
    document.removeEventListener('visibilitychange', this.handleVisible);
    clearTimeout(this.reconnectTimer);
    const ws = this.ws;
    this.dropSocket();
    if (ws) ws.close(1000, 'signed out');
    for (const entry of this.outbox.splice(0)) {
      clearTimeout(entry.timer);
      entry.reject(new AckError('disconnected', 'Signed out'));
    }
    this.setState(OFFLINE);
  }

  /** Drop the current socket on purpose (tests, debugging); reconnects as usual. */
  drop() {
    if (this.ws) this.ws.close(4001, 'dropped by client');
  }

  /**
   * Send an action and resolve with the ack's `message` (or the whole ack
   * when it has none). Rejects with AckError.
   *   queue: wait in the outbox while offline (default true)
   *   retry: send again after a dropped connection (default false)
   */
  request(action, data = {}, { queue = true, retry = false, timeout = config.ackTimeoutMs } = {}) {
    const frame = { action, requestId: uuid(), data };
    return new Promise((resolve, reject) => {
      if (!queue && this.state !== ONLINE) {
        reject(new AckError('offline', 'Not connected'));
        return;
      }
      const entry = { frame, resolve, reject, retry, queue, timeout, timer: null, sentOn: 0 };
      this.outbox.push(entry);
      if (this.state === ONLINE) this.transmit(entry);
    });
  }

  get pending() {
    return this.outbox.length;
  }

  // -- internals ---------------------------------------------------------

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }

  connectNow() {
    if (this.stopped) return;
    if (this.ws && (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)) return;
    clearTimeout(this.reconnectTimer);
    this.attempt = 0;
    this.connect();
  }

  async connect() {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    const generation = ++this.generation;
    this.setState(CONNECTING);
    let token;
    try {
      token = await session.accessToken();
    } catch (err) {
      if (generation !== this.generation) return;
      if (err.status === 401 || err.status === 403) {
        this.stop();
        this.onUnauthorized();
        return;
      }
      this.setState(OFFLINE);
      this.scheduleReconnect();
      return;
    }
    if (this.stopped || generation !== this.generation) return;

    const ws = new WebSocket(`${config.wsUrl}?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    let opened = false;

    ws.onopen = () => {
      if (ws !== this.ws) return;
      opened = true;
      this.token = token;
      this.attempt = 0;
      const reconnect = this.everOpened;
      this.everOpened = true;
      this.setState(ONLINE);
      this.startPing();
      this.flush();
      this.onOpen({ reconnect });
    };

    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && frame.type === 'ack') this.settle(frame);
      else if (frame && frame.type === 'session:ended') this.sessionEnded();
      else if (frame && frame.type) this.onFrame(frame);
    };

    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.dropSocket();
      if (this.stopped) return;
      this.setState(OFFLINE);
      if (!opened) this.handshakeRefused();
      else this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* always followed by close */
    };
  }

  /** The server said no before the socket opened: maybe the token. */
  async handshakeRefused() {
    const now = Date.now();
    if (!navigator.onLine || now - this.lastRefreshAt < MIN_REFRESH_GAP_MS) {
      this.scheduleReconnect();
      return;
    }
    this.lastRefreshAt = now;
    try {
      await session.refresh();
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        this.stop();
        this.onUnauthorized();
        return;
      }
      this.scheduleReconnect();
      return;
    }
    // A fresh token: try again straight away, once.
    if (!this.stopped) this.connect();
  }

  scheduleReconnect() {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2); // "equal jitter"
    this.attempt = Math.min(this.attempt + 1, 16);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Forget the current socket; fail what cannot be retried. */
  dropSocket() {
    if (this.ws) {
      this.ws.onopen = this.ws.onmessage = this.ws.onclose = this.ws.onerror = null;
    }
    this.ws = null;
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.outbox = this.outbox.filter((entry) => {
      clearTimeout(entry.timer);
      entry.timer = null;
      if (!entry.sentOn) return entry.queue; // never sent: keep if queueable
      if (entry.retry) {
        entry.sentOn = 0;
        return true;
      }
      entry.reject(new AckError('disconnected', 'Connection lost before the server answered'));
      return false;
    });
  }

  flush() {
    for (const entry of [...this.outbox]) {
      if (this.state !== ONLINE) break;
      if (!entry.sentOn) this.transmit(entry);
    }
  }

  transmit(entry) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    try {
      ws.send(JSON.stringify(entry.frame));
    } catch {
      return; // the close handler requeues or fails it
    }
    entry.sentOn = this.generation;
    entry.timer = setTimeout(() => this.timedOut(entry), entry.timeout);
  }

  timedOut(entry) {
    entry.timer = null;
    if (entry.retry) {
      // No answer: assume the connection is dead; reconnecting resends it.
      if (this.ws) this.ws.close(4002, 'ack timeout');
      return;
    }
    this.remove(entry);
    entry.reject(new AckError('timeout', 'The server did not answer'));
    if (entry.frame.action === 'ping' && this.ws) this.ws.close(4002, 'ping timeout');
  }

  remove(entry) {
    const i = this.outbox.indexOf(entry);
    if (i >= 0) this.outbox.splice(i, 1);
    clearTimeout(entry.timer);
  }

  settle(ack) {
    const entry = this.outbox.find((e) => e.frame.requestId === ack.requestId);
    if (!entry) return;
    this.remove(entry);
    if (ack.status === 'ok') {
      entry.resolve(ack.message !== undefined ? ack.message : ack);
      return;
    }
    if (ack.code === 'rate_limited' && entry.retry) {
      // Wait as told, then go again (same frame: same clientMessageId).
      const wait = Math.max(1, Number(ack.retryAfter) || 1) * 1000;
      entry.sentOn = 0;
      setTimeout(() => {
        if (this.stopped) return entry.reject(new AckError('disconnected', 'Signed out'));
        this.outbox.push(entry);
        if (this.state === ONLINE) this.transmit(entry);
      }, wait);
      return;
    }
    if (ack.code === 'token_expired' && entry.frame.action !== 'auth') {
      // Nothing was done: back in the outbox, out again after `auth`.
      entry.sentOn = 0;
      this.outbox.push(entry);
      this.tokenExpired();
      return;
    }
    entry.reject(new AckError(ack.code || 'internal', ack.message, { retryAfter: ack.retryAfter }));
  }

  // -- the access token of a live connection --------------------------------

  sessionChanged(s) {
    if (!s || this.state !== ONLINE || s.accessToken === this.token) return;
    this.renew(s.accessToken);
  }

  /** Give the open socket a fresh access token (`auth`), then send what waited. */
  renew(token) {
    if (this.renewing) return this.renewing;
    const ws = this.ws;
    this.renewing = this.request('auth', { token }, { queue: false, timeout: 10000 })
      .then(() => {
        if (ws !== this.ws) return;
        this.token = token;
        this.flush();
      })
      .catch((err) => {
        if (err.code === 'unauthorized' || err.code === 'forbidden') {
          this.stop();
          this.onUnauthorized();
        } else if (ws && ws === this.ws) {
          ws.close(4003, 'auth failed'); // reconnecting uses a fresh token
        }
      })
      .finally(() => {
        this.renewing = null;
      });
    return this.renewing;
  }

  async tokenExpired() {
    if (this.renewing) return;
    let token;
    try {
      token = await session.accessToken();
      // The server's clock says expired: a token this socket already has will not do.
      if (token === this.token) token = await session.refresh();
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        this.stop();
        this.onUnauthorized();
      } else if (this.ws) {
        this.ws.close(4003, 'token refresh failed');
      }
      return;
    }
    if (!this.stopped && token !== this.token) this.renew(token);
  }

  /** The sign-in ended (logout elsewhere, password change, revoked): sign out here. */
  sessionEnded() {
    this.stop();
    this.onUnauthorized();
  }

  startPing() {
    clearInterval(this.pingTimer);
    const ping = () => this.request('ping', {}, { queue: false, timeout: 10000 }).catch(() => {});
    ping();
    this.pingTimer = setInterval(ping, config.pingIntervalMs);
  }
}
