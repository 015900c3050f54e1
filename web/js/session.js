// Who is signed in, and their tokens.
//
// Tokens live in localStorage so a reload keeps the session. A refresh token
// works once (reusing one revokes its whole family), so every refresh runs
// under a Web Lock shared by all tabs of this origin, and re-reads storage
// inside the lock: a tab that finds a fresher pair there adopts it instead of
// spending an already-spent refresh token.

import { config } from './config.js';
import { ApiError, fetchJSON } from './http.js';

const KEY = 'parley.session';
const listeners = new Set();
let current = read();
let inflight = null;
let timer = null;

function read() {
  try {
    const raw = localStorage.getItem(KEY);
    const value = raw ? JSON.parse(raw) : null;
    return value && value.accessToken && value.refreshToken ? value : null;
  } catch {
    return null;
  }
}

function write(value) {
  current = value;
  if (value) localStorage.setItem(KEY, JSON.stringify(value));
  else localStorage.removeItem(KEY);
  schedule();
  for (const fn of listeners) fn(current);
}

/** The JWT payload (not verified: only for `exp` and `sub`). */
export function decodeJwt(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '='));
    return JSON.parse(json);
  } catch {
    return {};
  }
}

export function expiresAt(token) {
  const { exp } = decodeJwt(token || '');
  return typeof exp === 'number' ? exp * 1000 : Infinity;
}

export function get() {
  return current;
}

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Store what /auth/register, /auth/login or /auth/refresh returned. */
export function set({ user, accessToken, refreshToken }) {
  write({ user: user || (current && current.user) || null, accessToken, refreshToken });
}

export function updateUser(user) {
  if (current) write({ ...current, user });
}

export function clear() {
  write(null);
}

function withLock(fn) {
  if (navigator.locks && navigator.locks.request) {
    return navigator.locks.request('parley-token-refresh', fn);
  }
  return fn();
}

/**
 * Trade the refresh token for a new pair. One at a time, across tabs.
 * Resolves to the new access token; rejects with ApiError (status 401 means
 * the session is over and has been cleared).
 */
export function refresh() {
  if (inflight) return inflight;
  const spent = current && current.accessToken;
  inflight = withLock(async () => {
    const stored = read();
    if (!stored) {
      write(null);
      throw new ApiError(401, 'unauthorized', 'Signed out');
    }
    if (stored.accessToken !== spent && expiresAt(stored.accessToken) - Date.now() > leewayFor(stored.accessToken)) {
      write(stored); // another tab already refreshed
      return stored.accessToken;
    }
    try {
      const pair = await fetchJSON('POST', '/auth/refresh', { body: { refreshToken: stored.refreshToken } });
      set({ user: pair.user || stored.user, accessToken: pair.accessToken, refreshToken: pair.refreshToken });
      return pair.accessToken;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) write(null);
      throw err;
    }
  }).finally(() => {
    inflight = null;
  });
  return inflight;
}

/** An access token that is good for at least the leeway; refreshes if not. */
export async function accessToken() {
  if (!current) throw new ApiError(401, 'unauthorized', 'Signed out');
  if (expiresAt(current.accessToken) - Date.now() > leewayFor(current.accessToken) / 2) return current.accessToken;
  return refresh();
}

/** Refresh a minute early, or at 80% of a short-lived token's life. */
function leewayFor(token) {
  const { iat, exp } = decodeJwt(token);
  if (typeof iat !== 'number' || typeof exp !== 'number') return config.refreshLeewayMs;
  return Math.min(config.refreshLeewayMs, Math.max(1000, (exp - iat) * 1000 * 0.2));
}

function schedule() {
  clearTimeout(timer);
  timer = null;
  if (!current) return;
  const exp = expiresAt(current.accessToken);
  if (!Number.isFinite(exp)) return;
  const delay = Math.max(1000, exp - leewayFor(current.accessToken) - Date.now());
  timer = setTimeout(() => {
    refresh().catch(() => {
      /* a network failure retries on the next request or reconnect */
    });
  }, Math.min(delay, 2 ** 31 - 1));
}

// Another tab signed in, refreshed or signed out.
window.addEventListener('storage', (event) => {
  if (event.key !== KEY) return;
  current = read();
  schedule();
  for (const fn of listeners) fn(current);
});

schedule();
