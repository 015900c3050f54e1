// fetch + JSON + the REST error shape {"status":"error","code","message"}.

import { config } from './config.js';

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status; // HTTP status, 0 when the network failed
    this.code = code || (status === 0 ? 'network' : 'http_error');
    this.body = body;
  }

  get isNetwork() {
    return this.status === 0;
  }
}

export async function fetchJSON(method, path, { body, token, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(`${config.apiBase}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'Cannot reach the server');
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    let message = data && (typeof data.message === 'string' ? data.message : data.detail);
    if (Array.isArray(message) && message[0] && message[0].msg) message = message[0].msg; // FastAPI validation
    throw new ApiError(
      response.status,
      data && data.code,
      typeof message === 'string' ? message : `${response.status} ${response.statusText}`,
      data,
    );
  }
  return data;
}
