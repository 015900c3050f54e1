// Where the APIs live, read once from <meta name="parley:api"> / <meta name="parley:ws">.

function meta(name, fallback) {
  const el = document.querySelector(`meta[name="${name}"]`);
  return (el && el.content.trim()) || fallback;
}

function absolute(url, protocolMap) {
  const resolved = new URL(url, window.location.href);
  if (protocolMap && protocolMap[resolved.protocol]) {
    resolved.protocol = protocolMap[resolved.protocol];
  }
  return resolved.href.replace(/\/$/, '');
}

export const config = Object.freeze({
  apiBase: absolute(meta('parley:api', '/api')),
  wsUrl: absolute(meta('parley:ws', '/ws'), { 'http:': 'ws:', 'https:': 'wss:' }),
  pageSize: 30,
  typingIntervalMs: 2000,
  typingShownMs: 4000,
  // Presence lapses 90 s after the last ping (PRESENCE_TTL_SECONDS).
  pingIntervalMs: 30 * 1000,
  ackTimeoutMs: 15000,
  // Refresh the access token this long before its `exp`.
  refreshLeewayMs: 60 * 1000,
});
