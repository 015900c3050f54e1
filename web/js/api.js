// The REST API (DESIGN §8). Every call carries the bearer token; a 401
// refreshes the pair once and retries.

import { fetchJSON } from './http.js';
import * as session from './session.js';

async function call(method, path, body) {
  const token = await session.accessToken();
  try {
    return await fetchJSON(method, path, { body, token });
  } catch (err) {
    if (err.status !== 401) throw err;
    const fresh = await session.refresh();
    return fetchJSON(method, path, { body, token: fresh });
  }
}

const q = (params) => {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') search.set(k, v);
  const s = search.toString();
  return s ? `?${s}` : '';
};

// Lists may come bare or wrapped ({chats: [...]}, {users: [...]}, {messages: [...]}).
export function listOf(data, ...keys) {
  if (Array.isArray(data)) return data;
  for (const key of [...keys, 'items', 'results', 'data']) {
    if (data && Array.isArray(data[key])) return data[key];
  }
  return [];
}

export async function register({ username, password, displayName }) {
  const body = { username, password };
  if (displayName) body.displayName = displayName;
  const result = await fetchJSON('POST', '/auth/register', { body });
  session.set(result);
  return result;
}

export async function login({ username, password }) {
  const result = await fetchJSON('POST', '/auth/login', { body: { username, password } });
  session.set(result);
  return result;
}

export async function logout() {
  const s = session.get();
  try {
    if (s) await fetchJSON('POST', '/auth/logout', { body: { refreshToken: s.refreshToken }, token: s.accessToken });
  } finally {
    session.clear();
  }
}

export const me = () => call('GET', '/users/me');
export const users = ({ query, online } = {}) =>
  call('GET', `/users${q({ query, online: online === undefined ? undefined : String(online) })}`).then((d) => listOf(d, 'users'));

export const chats = () => call('GET', '/chats').then((d) => listOf(d, 'chats'));
export const chat = (id) => call('GET', `/chats/${encodeURIComponent(id)}`);
export const createChat = ({ type, memberIds, title }) => {
  const body = { type, memberIds };
  if (title) body.title = title;
  return call('POST', '/chats', body);
};

/** One page of history, newest first: {messages, nextBefore} (nextBefore null at the start). */
export async function messages(chatId, { before, limit } = {}) {
  const data = await call('GET', `/chats/${encodeURIComponent(chatId)}/messages${q({ before, limit })}`);
  const list = listOf(data, 'messages');
  let nextBefore = data && !Array.isArray(data) ? data.nextBefore : undefined;
  if (nextBefore === undefined) {
    // Tolerate a server without the cursor: the oldest seq on a full page.
    nextBefore = limit && list.length >= limit ? Math.min(...list.map((m) => m.seq)) : null;
  }
  return { messages: list, nextBefore: nextBefore ?? null };
}

export const pins = (chatId) =>
  call('GET', `/chats/${encodeURIComponent(chatId)}/pins`).then((d) => listOf(d, 'messages', 'pins'));

/** A presigned S3 POST for one file: {attachmentId, upload: {url, fields}}. */
export const createAttachment = (chatId, { filename, contentType, size }) =>
  call('POST', `/chats/${encodeURIComponent(chatId)}/attachments`, { filename, contentType, size });
