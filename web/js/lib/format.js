// Names, times and day labels.

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
const shortDayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

export function toDate(value) {
  if (!value) return null;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function formatTime(value) {
  const d = toDate(value);
  return d ? timeFmt.format(d) : '';
}

export function dayKey(value) {
  const d = toDate(value) || new Date();
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

export function dayLabel(value, now = new Date()) {
  const d = toDate(value) || now;
  const days = Math.round((startOfDay(now) - startOfDay(d)) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (d.getFullYear() === now.getFullYear()) return dayFmt.format(d);
  return dayYearFmt.format(d);
}

/** "14:05" today, "Yesterday", "3 Mar" — for the chat list. */
export function shortStamp(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '';
  const days = Math.round((startOfDay(now) - startOfDay(d)) / 86400000);
  if (days === 0) return timeFmt.format(d);
  if (days === 1) return 'Yesterday';
  return shortDayFmt.format(d);
}

export function lastSeen(user, now = Date.now()) {
  if (!user) return '';
  if (user.online) return 'online';
  const d = toDate(user.lastSeenAt);
  if (!d) return 'offline';
  const minutes = Math.floor((now - d.getTime()) / 60000);
  if (minutes < 1) return 'last seen just now';
  if (minutes < 60) return `last seen ${minutes} min ago`;
  return `last seen ${dayLabel(d).toLowerCase()} at ${timeFmt.format(d)}`;
}

export function displayName(user) {
  if (!user) return 'Unknown';
  return user.displayName || user.username || 'Unknown';
}

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

export function snippet(text, max = 80) {
  const flat = String(text ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** 1536 -> "1.5 KB". */
export function formatBytes(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** A message in one line: its text, or what it carries when it has only files. */
export function summary(message, max = 80) {
  const text = snippet(message && message.body, max);
  if (text) return text;
  const files = (message && message.attachments) || [];
  if (!files.length) return '';
  return files.length === 1 ? `File: ${snippet(files[0].filename, max - 6)}` : `${files.length} files`;
}
