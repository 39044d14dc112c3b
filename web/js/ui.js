// ui.js — small DOM helpers shared by the views: elements, avatars, names, times.
export const $ = (id) => document.getElementById(id);

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function nameOf(u) { return u ? (u.nickname || u.username) : '…'; }

// A coloured square with the first letter of name (round for groups).
export function avatarOf(name, extra) {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  const a = el('div', `avatar c${h % 6}${extra ? ' ' + extra : ''}`, [...name][0] || '?');
  a.title = name;
  return a;
}

export function avatar(u, extra) { return avatarOf(nameOf(u), extra); }

export function hhmm(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
