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

let pictures = null;   // pictures.js, handed over by app.js: avatars are read with the token
export function usePictures(p) { pictures = p; }

// A user's avatar: their picture over the coloured initial, which shows while it loads
// and when there is none.
export function avatar(u, extra) {
  const a = avatarOf(nameOf(u), extra);
  if (u && u.avatar_url && pictures) a.append(pictures.img(u.avatar_url, 'avatar-img'));
  return a;
}

// Puts avatar a in the place of the element with this id, which it takes over.
export function placeAvatar(id, a) {
  const old = $(id);
  a.id = id;
  if (old.dataset.testid) a.dataset.testid = old.dataset.testid;
  old.replaceWith(a);
}

export function hhmm(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
