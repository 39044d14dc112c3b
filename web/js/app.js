// app.js — the cim web client: login, the three-column chat UI, and the reliable
// behaviour around it (optimistic sends, retries with the same cmid, seq-gap pulls,
// history paging, unread counts, reconnect). Speaks only docs/PROTOCOL.md. Groups'
// dialogs, member panel, @ picker and system notices are in groups.js; uploads, image
// and file bubbles and the image viewer in files.js.
import { Api } from './api.js';
import { Conn } from './conn.js';
import { Store, cidOf, gidOf, mentionsOf } from './store.js';
import { People } from './people.js';
import { createGroups } from './groups.js';
import { createContacts } from './contacts.js';
import { createFiles, percent, previewOf, uploadProblem } from './files.js';
import { Pictures } from './pictures.js';
import { $, el, nameOf, avatar, avatarOf, hhmm, placeAvatar, usePictures } from './ui.js';

const EMOJI = ['😀', '😂', '🙂', '😉', '😍', '😘', '😎', '🤔', '😅', '😭', '😡', '👍', '👎', '👏', '🙏', '💪',
               '🎉', '❤️', '🔥', '✨', '☕', '🍻', '🌹', '✅'];
const PAGE = 30;
const TOKEN_KEY = 'cim.token';

const api = new Api();
const pictures = new Pictures(api);
usePictures(pictures);
let me = null;          // {user_id, username, nickname, avatar_url}
let store = null;
let conn = null;
let active = null;      // {cid, peer} of a single chat, {cid, gid} of a group
let mode = 'chats';     // chats | contacts
let loadingOlder = false;
let historyDone = new Set();
const presence = new Map();   // user id -> {online, last_seen}: GET /api/presence, then frames
const peerRead = new Map();   // single chat cid -> the peer's read position
const typingOf = new Map();   // cid -> {user_id, until}: someone is typing there
let typingSent = 0;           // when we last told the server we are typing
const people = new People(api, () => { renderList(); if (active) renderMessages(); });
const groups = createGroups({
  api, people,
  me: () => me,
  store: () => store,
  active: () => active,
  openChat: (cid) => openChat(cid),
  refreshConversations: () => refreshConversations(),
  rerender: () => { renderList(); if (active) { renderHeader(); renderMessages(); } },
});

const contacts = createContacts({
  api, people,
  me: () => me,
  mode: () => mode,
  active: () => active,
  openPeer: (u) => { setMode('chats'); openChat(cidOf(me.user_id, u.user_id), u); },
  presence,
  learnPresence,
});

const files = createFiles({
  api, pictures,
  me: () => me,
  target: () => (active && store && !store.conv(active.cid).left ? { cid: active.cid, ...targetOf(active) } : null),
  sendFile: (target, type, content) => queueSend(target, JSON.stringify(content), { type }),
  note: (cid, text) => systemNote(cid, text),
  changed: (cid) => changed(cid),
});

async function learnPresence(ids) {
  for (let i = 0; i < ids.length; i += 100) {
    const r = await api.presence(ids.slice(i, i + 100));
    if (r.status === 200) for (const p of r.body.presence) presence.set(p.user_id, p);
  }
}

function onPresence(f) {
  presence.set(f.user_id, { user_id: f.user_id, online: f.online, last_seen: f.last_seen });
  if (mode === 'contacts' && !$('search').value.trim()) contacts.render();
  if (active && active.peer && active.peer.user_id === f.user_id) renderHeader();
}

// A conversation's title: the peer's name, or the group's name and member count.
function titleOf(c) {
  if (c.group) return `${c.group.name} (${c.group.member_count})`;
  return nameOf(c.peer);
}

// ---------- auth ----------
let registering = false;

function showAuth(message) {
  $('main').classList.add('hidden');
  $('auth').classList.remove('hidden');
  $('auth-error').textContent = message || '';
}

function authError(body, status) {
  const code = body && body.error;
  if (code === 'username_taken') return 'That username is taken.';
  if (code === 'invalid_credentials') return 'Wrong username or password.';
  if (status === 0) return 'Cannot reach the server.';
  return (body && body.message) || 'Something went wrong, try again.';
}

async function submitAuth(ev) {
  ev.preventDefault();
  const username = $('auth-username').value.trim();
  const password = $('auth-password').value;
  if (!username || !password) {
    $('auth-error').textContent = 'Enter a username and a password.';
    return;
  }
  if (registering) {
    const r = await api.register(username, password, $('auth-nickname').value.trim());
    if (r.status !== 201) { $('auth-error').textContent = authError(r.body, r.status); return; }
  }
  const r = await api.login(username, password);
  if (r.status !== 200) { $('auth-error').textContent = authError(r.body, r.status); return; }
  localStorage.setItem(TOKEN_KEY, r.body.token);
  await start(r.body.token);
}

function toggleRegister() {
  registering = !registering;
  $('auth-nickname-row').classList.toggle('hidden', !registering);
  $('auth-submit').textContent = registering ? 'Register' : 'Sign in';
  $('auth-submit').dataset.testid = registering ? 'register-button' : 'login-button';
  $('auth-toggle').textContent = registering ? 'Have an account? Sign in' : 'No account? Register';
  $('auth-error').textContent = '';
}

// Revokes the token on the server (every gateway), then forgets it here.
function logout() {
  if (api.token) api.logout();   // best effort: the local state goes either way
  if (conn) conn.stop();
  conn = null;
  api.token = null;
  localStorage.removeItem(TOKEN_KEY);
  me = store = active = null;
  groups.reset();
  contacts.reset();
  files.reset();
  pictures.clear();
  presence.clear();
  $('messages').replaceChildren();
  $('items').replaceChildren();
  showAuth();
}

// ---------- start ----------
async function start(token) {
  api.token = token;
  const r = await api.me();
  if (r.status !== 200) { logout(); return; }
  me = r.body;
  store = new Store(me.user_id, localStorage);
  historyDone = new Set();
  $('auth').classList.add('hidden');
  $('main').classList.remove('hidden');
  showMe();
  conn = new Conn(() => api.token, { onFrame, onState, onOpen, onRefused });
  conn.start();
  contacts.start();
  await refreshConversations();
}

// The toolbar's avatar and the settings page, from me.
function showMe() {
  placeAvatar('me-avatar', avatar(me, 'me'));
  placeAvatar('settings-avatar', avatar(me, 'big'));
  $('settings-user').textContent = `${nameOf(me)} (@${me.username})`;
  $('settings-nickname').value = me.nickname || '';
}

// A PATCH /api/me answered: the new profile everywhere it shows, or why not.
function profileSaved(r) {
  if (r.status !== 200) { $('settings-note').textContent = (r.body && r.body.message) || 'Could not save.'; return; }
  me = r.body;
  people.learn(me);
  showMe();
  if (active) renderMessages();
  $('settings-note').textContent = 'Saved.';
}

async function saveProfile(ev) {
  ev.preventDefault();
  profileSaved(await api.updateMe({ nickname: $('settings-nickname').value.trim() }));
}

// Upload a picture, then make it the avatar (it has to be an image: one with a thumbnail).
async function uploadAvatar() {
  const file = $('avatar-file').files[0];
  $('avatar-file').value = '';
  if (!file) return;
  const note = $('settings-note');
  const r = await api.upload(file, (sent, total) => { note.textContent = `Uploading… ${percent(sent, total)}`; });
  const problem = uploadProblem(r);
  if (problem) { note.textContent = `Not uploaded: ${problem}.`; return; }
  if (!r.body.thumb) { note.textContent = 'That is not a picture: choose a PNG, JPEG, GIF or WebP image.'; return; }
  profileSaved(await api.updateMe({ avatar_file_id: r.body.file_id }));
}

async function refreshConversations() {
  const r = await api.conversations();
  if (r.status !== 200 || !store) return;
  store.loadConversations(r.body.conversations);
  for (const v of r.body.conversations) people.learn(v.peer);
  if (active) {
    const c = store.conv(active.cid);
    if (!active.peer && c.peer) active.peer = c.peer;
  }
  renderList();
}

// ---------- connection events ----------
function onState(s) {
  const e = $('conn-state');
  e.textContent = s;
  e.className = 'conn-state ' + s;
}

async function onRefused() {
  const r = await api.me();   // a 401 here logs out (expired token); otherwise keep retrying
  if (r.status === 401) logout();
}

function onOpen() {
  // Resend what was never acknowledged, with the same cmid: the server dedups.
  for (const o of store.outbox.values()) sendFrame(o);
  // Catch up every conversation we hold messages of; the open one first.
  const cids = new Set(active ? [active.cid] : []);
  for (const cid of store.msgs.keys()) cids.add(cid);
  for (const cid of cids) conn.send({ op: 'sync', conversation_id: cid, after_seq: store.highest(cid), limit: 100 });
  refreshConversations();
}

function onFrame(f) {
  if (!store) return;
  switch (f.op) {
    case 'sent': return onSent(f);
    case 'msg': return onMsg(f.message);
    case 'sync': return onSync(f);
    case 'notify': return onNotify(f);
    case 'error': return onError(f);
    case 'friend_request': return contacts.onRequest(f);
    case 'recalled': return onRecalled(f);
    case 'presence': return onPresence(f);
    case 'receipt': return onReceipt(f);
    case 'typing': return onTyping(f);
    default: return undefined;   // pong
  }
}

// A large group has news: pull it if we hold its messages, else only count it.
function onNotify(f) {
  const c = store.conv(f.conversation_id);
  if (store.msgs.has(f.conversation_id)) {
    conn.send({ op: 'sync', conversation_id: f.conversation_id, after_seq: store.highest(f.conversation_id), limit: 100 });
    return;
  }
  if (f.max_seq > c.maxSeq) {
    c.unread += f.max_seq - Math.max(c.maxSeq, c.lastRead);
    c.maxSeq = f.max_seq;
    if (!c.group) refreshConversations();
    renderList();
  }
}

function onSent(f) {
  const o = store.outbox.get(f.cmid);
  if (o) {
    store.add({ msg_id: f.msg_id, conversation_id: f.conversation_id, seq: f.seq, sender_id: me.user_id, type: o.type || 1,
                content: o.content, mentions: o.mentions || [], created_at: f.created_at, cmid: f.cmid });
  }
  store.acked(f.cmid);
  changed(f.conversation_id);
}

function onMsg(m) {
  const known = store.convs.has(m.conversation_id) && (store.conv(m.conversation_id).peer || store.conv(m.conversation_id).group);
  const r = store.add(m);
  if (!r.added) return;
  if (m.type === 100) groups.onSystem(m);
  const t = typingOf.get(m.conversation_id);
  if (t && t.user_id === m.sender_id) { typingOf.delete(m.conversation_id); renderTyping(); }
  if (r.gapFrom !== null && r.gapFrom !== undefined)   // missed pushes: pull the range
    conn.send({ op: 'sync', conversation_id: m.conversation_id, after_seq: r.gapFrom, limit: 100 });
  const c = store.conv(m.conversation_id);
  if (m.sender_id !== me.user_id) {
    if (active && active.cid === m.conversation_id && document.visibilityState === 'visible') markRead(c);
    else if (m.seq > c.lastRead) {
      c.unread += 1;
      if (mentionsOf(m, me.user_id)) c.mentioned = true;
    }
  }
  if (!known) refreshConversations();
  changed(m.conversation_id);
}

function onSync(f) {
  let any = false;
  for (const m of f.messages) {
    const added = store.add(m).added;
    if (added && m.type === 100) groups.onSystem(m);
    any = added || any;
  }
  if (f.messages.length >= 100)   // more to come
    conn.send({ op: 'sync', conversation_id: f.conversation_id, after_seq: f.messages[f.messages.length - 1].seq, limit: 100 });
  const c = store.conv(f.conversation_id);
  if (active && active.cid === f.conversation_id) markRead(c);
  if (any) changed(f.conversation_id);
}

// Someone read up to seq: "n read" in a group, "Read" in a single chat.
function onReceipt(f) {
  if (!groups.onReceipt(f)) {
    if (f.user_id === me.user_id) return;
    peerRead.set(f.conversation_id, Math.max(peerRead.get(f.conversation_id) || 0, f.seq));
  }
  if (active && active.cid === f.conversation_id) renderMessages();
}

// "… is typing" for 4 s after each `typing` frame.
function onTyping(f) {
  if (f.user_id === me.user_id) return;
  typingOf.set(f.conversation_id, { user_id: f.user_id, until: Date.now() + 4000 });
  renderTyping();
  setTimeout(renderTyping, 4100);
}

function renderTyping() {
  const t = active && typingOf.get(active.cid);
  const on = t && t.until > Date.now();
  const who = on ? (active.gid ? nameOf(people.get(t.user_id)) : nameOf(active.peer)) : '';
  $('typing').textContent = on ? `${who} is typing…` : '';
}

// Tell the others we are typing, at most every 3 s.
function typing() {
  if (!active || !conn || !$('input').value.trim() || Date.now() - typingSent < 3000) return;
  typingSent = Date.now();
  conn.send({ op: 'typing', conversation_id: active.cid });
}

// A message was recalled: its bubble becomes a notice, everywhere it is shown.
function onRecalled(f) {
  const m = store.msgs.has(f.conversation_id) && store.msgs.get(f.conversation_id).get(f.seq);
  if (m) { m.recalled = true; m.content = ''; }
  const c = store.conv(f.conversation_id);
  if (c.last && c.last.seq === f.seq) { c.last.recalled = true; c.last.content = ''; }
  changed(f.conversation_id);
}

let recalling = null;   // cid of the last recall asked, for its error
function recallMessage(m) {
  recalling = m.conversation_id;
  conn.send({ op: 'recall', conversation_id: m.conversation_id, seq: m.seq });
}

function onError(f) {
  if (!f.cmid && recalling && ['recall_expired', 'forbidden', 'not_found'].includes(f.code)) {
    systemNote(recalling, f.code === 'recall_expired' ? 'Too late to recall that message.' : `Not recalled: ${f.message}`);
    recalling = null;
    return;
  }
  if (!f.cmid) return;
  const o = store.outbox.get(f.cmid);
  if (!o) return;
  if (f.code === 'rate_limited') { o.notBefore = Date.now() + (Number(f.retry_after_ms) || 1000); return; }   // still pending
  if (f.code === 'unavailable') { o.failed = true; changed(o.cid); return; }
  store.acked(f.cmid);   // refused for good: say so where the bubble was
  systemNote(o.cid, `Not delivered: ${f.message || f.code}`);
}

const notes = new Map();   // cid -> [text] local system lines
function systemNote(cid, text) {
  if (!notes.has(cid)) notes.set(cid, []);
  notes.get(cid).push(text);
  changed(cid);
}

function markRead(c) {
  const seq = Math.max(c.maxSeq, store.highest(c.cid));
  if (seq > c.lastRead || c.unread) {
    c.lastRead = seq;
    c.unread = 0;
    c.mentioned = false;
    conn.send({ op: 'read', conversation_id: c.cid, seq });
  }
}

function changed(cid) {
  renderList();
  if (active && active.cid === cid) renderMessages();
}

// ---------- sending ----------
// An image or file goes out as {file_id} alone: the server rebuilds the rest (the outbox
// keeps the whole content, to show the pending bubble).
function sendFrame(o) {
  const type = o.type || 1;
  const content = type === 1 ? o.content : JSON.stringify({ file_id: JSON.parse(o.content).file_id });
  const f = { op: 'send', cmid: o.cmid, type, content };
  if (o.group) { f.group = o.group; if (o.mentions && o.mentions.length) f.mentions = o.mentions; }
  else f.to = o.to;
  return conn && conn.send(f);
}

// Whom the open chat sends to: {group} or {to}, or null.
function targetOf(a) {
  if (a.gid) return { group: a.gid };
  return a.peer ? { to: a.peer.user_id } : null;
}

// Into the outbox and out (offline: it goes out on reconnect).
function queueSend(target, content, opts) {
  if (!store) return;   // logged out meanwhile (an upload finishing)
  const o = store.queue(target, content, opts);
  sendFrame(o);
  changed(o.cid);
}

function sendInput() {
  const text = $('input').value.replace(/\s+$/, '');
  const target = active && targetOf(active);
  if (!text.trim() || !target || store.conv(active.cid).left) return;
  $('input').value = '';
  typingSent = 0;   // the next keystroke announces typing again
  queueSend(target, text, { mentions: active.gid ? groups.takeMentions(text) : [] });
}

// Unacknowledged sends are retried every few seconds with the same cmid (a rate-limited
// one not before the time the server gave).
setInterval(() => {
  if (!store || !conn || !conn.online) return;
  const now = Date.now();
  for (const o of store.outbox.values()) if (now - o.created > 4000 && !(o.notBefore > now)) sendFrame(o);
}, 4000);

// ---------- opening a chat, history ----------
async function openChat(cid, peer) {
  const gid = gidOf(cid);
  active = gid ? { cid, gid } : { cid, peer: peer || store.conv(cid).peer };
  if (!gid) store.conv(cid).peer = active.peer;
  $('settings').classList.add('hidden');
  $('panel').classList.add('hidden');
  $('messages').classList.remove('hidden');
  renderHeader();
  if (gid) await groups.load(gid);
  else learnPresence([active.peer.user_id]).then(() => { if (active && active.cid === cid) renderHeader(); });
  if (!gid) api.reads(cid).then((r) => {   // the peer's read position, for "Read"
    if (r.status !== 200) return;
    for (const x of r.body.reads) if (x.user_id !== me.user_id) peerRead.set(cid, Math.max(peerRead.get(cid) || 0, x.last_read_seq));
    if (active && active.cid === cid) renderMessages();
  });
  if (!active || active.cid !== cid) return;   // another chat was opened meanwhile
  // the latest page, unless what we hold already reaches back to the first message (a
  // chat first seen through a push holds only what was pushed)
  if (!historyDone.has(cid) && (!store.msgs.has(cid) || store.lowest(cid) > 1)) await loadOlder(true);
  markRead(store.conv(cid));
  renderList();
  renderHeader();
  renderMessages(true);
  $('input').focus();
}

// The header and the composer of the open chat: a group's name, count and members
// button; a group you are no longer in cannot be written to.
function renderHeader() {
  const c = store.conv(active.cid);
  $('peer-name').textContent = active.gid ? (c.group ? titleOf(c) : 'Group') : nameOf(active.peer);
  placeAvatar('peer-avatar', active.gid ? avatarOf(c.group ? c.group.name : 'Group', 'group') : avatar(active.peer));
  $('group-button').classList.toggle('hidden', !active.gid || c.left);
  contacts.renderBlock();
  renderTyping();
  const p = active.peer && presence.get(active.peer.user_id);
  $('peer-status').textContent = !p ? '' : p.online ? 'online' : p.last_seen ? `last seen ${hhmm(p.last_seen)}` : 'offline';
  const closed = !!c.left;
  for (const id of ['input', 'send', 'emoji-button', 'attach-button']) $(id).disabled = closed;
  $('input').placeholder = closed ? 'You are no longer a member of this group.'
    : 'Type a message — Enter to send, Shift+Enter for a new line' + (active.gid ? ', @ to mention' : '');
}

async function loadOlder(first) {
  if (!active || loadingOlder || historyDone.has(active.cid)) return;
  loadingOlder = true;
  const cid = active.cid;
  const before = first ? Number.MAX_SAFE_INTEGER : store.lowest(cid);
  const box = $('messages');
  const fromBottom = box.scrollHeight - box.scrollTop;
  const r = await api.history(cid, before, PAGE);
  loadingOlder = false;
  if (r.status !== 200) return;
  for (const m of r.body.messages) store.add(m);
  if (r.body.messages.length < PAGE) historyDone.add(cid);
  store.conv(cid).maxSeq = Math.max(store.conv(cid).maxSeq, r.body.max_seq);
  if (!first && active && active.cid === cid) {
    renderMessages();
    box.scrollTop = box.scrollHeight - fromBottom;   // keep the view where it was
  }
}

// ---------- rendering ----------
function renderList() {
  if (!store) return;
  const ul = $('items');
  const q = $('search').value.trim().toLowerCase();
  if (mode === 'contacts') return;   // filled by search results
  const items = store.list().filter((c) => (c.peer || c.group) &&
    (!q || titleOf(c).toLowerCase().includes(q) || (c.peer && c.peer.username.toLowerCase().includes(q))));
  if (!items.length) {
    ul.replaceChildren(el('li', 'empty', q ? 'No chats match.' : 'No chats yet — find someone in Contacts.'));
    return;
  }
  ul.replaceChildren(...items.map((c) => {
    const li = el('li', 'item' + (active && active.cid === c.cid ? ' active' : ''));
    li.dataset.testid = 'conversation';
    li.dataset.cid = c.cid;
    const body = el('div', 'item-body');
    const top = el('div', 'item-top');
    top.append(el('span', 'item-name', titleOf(c)), el('span', 'item-time', c.last ? hhmm(c.last.created_at) : ''));
    const bottom = el('div', 'item-bottom');
    const pv = el('span', 'item-preview');
    if (c.mentioned && !(active && active.cid === c.cid)) {
      const f = el('span', 'mention-flag', '[@you]');
      f.dataset.testid = 'mention-flag';
      pv.append(f);
    }
    pv.append(preview(c));
    bottom.append(pv);
    if (c.unread > 0 && !(active && active.cid === c.cid)) {
      const b = el('span', 'badge', String(c.unread > 99 ? '99+' : c.unread));
      b.dataset.testid = 'unread-badge';
      bottom.append(b);
    }
    body.append(top, bottom);
    li.append(c.group ? avatarOf(c.group.name, 'group') : avatar(c.peer), body);
    li.onclick = () => openChat(c.cid, c.peer);
    return li;
  }));
}

// The last message of a conversation in one line: "You: …", "Bob: …" in groups.
function preview(c) {
  const m = c.last;
  if (!m) return '';
  if (m.type === 100) return groups.systemText(m);
  if (m.recalled) return 'A message was recalled';
  let who = '';
  if (m.sender_id === me.user_id) who = 'You: ';
  else if (c.group) who = nameOf(people.get(m.sender_id)) + ': ';
  return who + (previewOf(m) || m.content.replace(/\s+/g, ' '));
}

// One message; in a group with the sender's name above it, "n read" under your own,
// and a red ring when it mentions you.
function bubble(m, mine, state) {
  const mentioned = !mine && active.gid && mentionsOf(m, me.user_id);
  const row = el('div', 'row ' + (mine ? 'mine' : 'theirs') + (state ? ' ' + state : '') + (mentioned ? ' mentioned' : ''));
  row.dataset.testid = 'message';
  if (m.seq) row.dataset.seq = String(m.seq);
  if (m.msg_id) row.dataset.msgid = m.msg_id;
  const sender = mine ? me : active.gid ? people.get(m.sender_id) : active.peer;
  const stack = el('div', 'stack');
  if (active.gid && !mine) stack.append(el('div', 'sender', nameOf(sender)));
  stack.append(files.bubble(m) || el('div', 'bubble', m.content));
  const meta = el('div', 'meta', hhmm(m.created_at || m.created));
  const n = mine && m.seq && active.gid ? groups.readCount(active.cid, m.seq) : null;
  if (mine && m.seq && !active.gid && m.seq <= (peerRead.get(active.cid) || 0)) {
    const r = el('span', 'reads read-mark', ' · Read');
    r.dataset.testid = 'read-mark';
    meta.append(r);
  }
  if (n !== null) {
    const r = el('span', 'reads', ` · ${n} read`);
    r.dataset.testid = 'reads';
    meta.append(r);
  }
  if (m.seq && (mine || groups.canModerate(active.gid))) {   // the server has the last word on time
    const r = el('button', 'recall link', 'Recall');
    r.type = 'button';
    r.dataset.testid = 'recall';
    r.onclick = () => recallMessage(m);
    meta.append(r);
  }
  row.append(avatar(sender), stack, meta);
  return row;
}

function renderMessages(toBottom) {
  const box = $('messages');
  const atBottom = toBottom || box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const nodes = [];
  if (historyDone.has(active.cid)) nodes.push(el('div', 'history-top', 'Start of the conversation'));
  for (const m of store.sorted(active.cid)) {
    if (m.recalled) {
      const who = m.sender_id === me.user_id ? 'You' : nameOf(active.gid ? people.get(m.sender_id) : active.peer);
      const n = el('div', 'system', `${who} recalled a message`);
      n.dataset.testid = 'recalled';
      nodes.push(n);
    } else if (m.type === 100) {
      const n = el('div', 'system', groups.systemText(m));
      n.dataset.testid = 'system';
      nodes.push(n);
    }
    else nodes.push(bubble(m, m.sender_id === me.user_id));
  }
  for (const o of store.pending(active.cid)) nodes.push(bubble(o, true, o.failed ? 'pending failed' : 'pending'));
  nodes.push(...files.uploading(active.cid));
  for (const t of notes.get(active.cid) || []) nodes.push(el('div', 'system', t));
  box.replaceChildren(...nodes);
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function setMode(m) {
  mode = m;
  $('nav-chats').classList.toggle('active', m === 'chats');
  $('nav-contacts').classList.toggle('active', m === 'contacts');
  $('list-title').textContent = m === 'chats' ? 'Chats' : 'Contacts';
  $('search').placeholder = m === 'chats' ? 'Search chats' : 'Search users';
  $('search').value = '';
  if (m === 'chats') renderList();
  else contacts.render();
}

// ---------- wiring ----------
function wire() {
  $('auth-form').addEventListener('submit', submitAuth);
  $('auth-toggle').addEventListener('click', toggleRegister);
  $('logout').addEventListener('click', logout);
  $('settings-logout').addEventListener('click', logout);
  $('settings-profile').addEventListener('submit', saveProfile);
  $('avatar-upload').addEventListener('click', () => $('avatar-file').click());
  $('avatar-file').addEventListener('change', uploadAvatar);
  $('nav-chats').addEventListener('click', () => setMode('chats'));
  $('nav-contacts').addEventListener('click', () => setMode('contacts'));
  $('nav-settings').addEventListener('click', () => {
    $('settings').classList.toggle('hidden');
    $('messages').classList.toggle('hidden', !$('settings').classList.contains('hidden'));
  });
  let searchTimer = null;
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => (mode === 'chats' ? renderList() : contacts.render()), 150);
  });
  $('send').addEventListener('click', sendInput);
  $('input').addEventListener('keydown', (ev) => {
    if (groups.pickerKey(ev)) return;
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendInput(); }
  });
  $('input').addEventListener('input', typing);
  $('messages').addEventListener('scroll', () => { if ($('messages').scrollTop < 40) loadOlder(false); });
  const panel = $('emoji-panel');
  panel.replaceChildren(...EMOJI.map((e) => {
    const b = el('button', '', e);
    b.type = 'button';
    b.onclick = () => { $('input').setRangeText(e, $('input').selectionStart, $('input').selectionEnd, 'end'); panel.classList.add('hidden'); $('input').focus(); };
    return b;
  }));
  $('emoji-button').addEventListener('click', () => panel.classList.toggle('hidden'));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && active && store) { markRead(store.conv(active.cid)); renderList(); }
  });
  window.addEventListener('offline', () => conn && conn.pause());
  window.addEventListener('online', () => conn && conn.kick());
  api.onUnauthorized = () => logout();
}

wire();
const saved = localStorage.getItem(TOKEN_KEY);
if (saved) start(saved);
else showAuth();
