// Inline SVG icons (no icon font, no emoji font needed). Decorative:
// the buttons that hold them carry the accessible name.

const NS = 'http://www.w3.org/2000/svg';

const PATHS = {
  pin: 'M16 3l5 5-3 1-4 4 1 5-2 2-4-4-5 5-1-1 5-5-4-4 2-2 5 1 4-4z',
  edit: 'M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4',
  signOut: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h11',
  send: 'M3 20l18-8L3 4l3 8-3 8zM6 12h8',
  close: 'M6 6l12 12M18 6L6 18',
  back: 'M15 5l-7 7 7 7',
  clock: 'M12 7v5l3 2M12 3a9 9 0 100 18 9 9 0 000-18z',
  more: 'M5 12h.01M12 12h.01M19 12h.01',
  forward: 'M14 5l6 6-6 6M20 11H9a5 5 0 00-5 5v3',
  attach: 'M21 11l-8.5 8.5a5 5 0 01-7-7L14 4a3.5 3.5 0 015 5l-8.5 8.5a2 2 0 01-3-3L15 7',
  file: 'M6 2h8l5 5v15H6zM14 2v5h5',
};

export function icon(name, { size = 20, className = '' } = {}) {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', String(size));
  svg.setAttribute('height', String(size));
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon-svg ${className}`.trim());
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', PATHS[name]);
  svg.append(path);
  return svg;
}
