// contacts.js — the Contacts view: friend requests to you (accept, decline) and from you,
// your friends A–Z (click to chat), a username search with "Add"; the badge of pending
// requests on the toolbar; the Block toggle of a single chat. app.js owns the session
// and hands it over through ctx: {api, people, me(), mode(), openPeer(user), active(),
// presence (Map user id -> {online, last_seen}), learnPresence(ids)}.
import { $, el, avatar, nameOf } from './ui.js';

export function createContacts(ctx) {
  const { api, people } = ctx;
  let blocked = new Set();   // user ids I blocked
  let loadedPresence = false;

  function setBadge(n) {
    const b = $('requests-badge');
    b.textContent = n > 99 ? '99+' : String(n);
    b.classList.toggle('hidden', n === 0);
  }

  function row(u, testid, sub) {
    people.learn(u);
    const li = el('li', 'item');
    li.dataset.testid = testid;
    li.dataset.uid = String(u.user_id);
    const body = el('div', 'item-body');
    body.append(el('div', 'item-name', nameOf(u)), el('div', 'item-preview', sub));
    const a = avatar(u);
    const p = ctx.presence.get(u.user_id);
    if (p && p.online) {
      const dot = el('span', 'online-dot');
      dot.dataset.testid = 'online-dot';
      a.append(dot);
    }
    li.append(a, body);
    return li;
  }

  function button(text, testid, fn) {
    const b = el('button', 'small-button', text);
    b.type = 'button';
    b.dataset.testid = testid;
    b.onclick = (ev) => { ev.stopPropagation(); fn(b); };
    return b;
  }

  async function answer(r, accept) {
    await api.answerRequest(r.request_id, accept);
    render();
  }

  // Requests and friends; with a search, the users found.
  async function render() {
    const q = $('search').value.trim();
    if (q) return renderSearch(q);
    const [rq, fr] = await Promise.all([api.friendRequests(), api.friends()]);
    if (ctx.mode() !== 'contacts' || $('search').value.trim()) return;   // moved on meanwhile
    const me = ctx.me().user_id;
    const reqs = rq.status === 200 ? rq.body.requests : [];
    const incoming = reqs.filter((r) => r.to.user_id === me);
    setBadge(incoming.length);
    const nodes = [];
    if (reqs.length) nodes.push(el('li', 'section', 'Friend requests'));
    for (const r of incoming) {
      const li = row(r.from, 'friend-request', r.message || `@${r.from.username} wants to be your friend`);
      li.append(button('Accept', 'friend-accept', () => answer(r, true)),
                button('Decline', 'friend-decline', () => answer(r, false)));
      nodes.push(li);
    }
    for (const r of reqs.filter((x) => x.from.user_id === me)) nodes.push(row(r.to, 'request-sent', 'Request sent'));
    nodes.push(el('li', 'section', 'Friends'));
    const friends = fr.status === 200 ? fr.body.friends : [];
    if (friends.length && !loadedPresence) {   // once; presence frames keep it current
      loadedPresence = true;
      await ctx.learnPresence(friends.map((u) => u.user_id));
      return render();
    }
    if (!friends.length) nodes.push(el('li', 'empty', 'No friends yet: search a username to add one.'));
    for (const u of friends) {
      const li = row(u, 'friend', '@' + u.username);
      li.onclick = () => ctx.openPeer(u);
      nodes.push(li);
    }
    $('items').replaceChildren(...nodes);
  }

  async function renderSearch(q) {
    const r = await api.searchUsers(q);
    if (ctx.mode() !== 'contacts' || $('search').value.trim() !== q) return;   // a newer search won
    const users = r.status === 200 ? r.body.users : [];
    if (!users.length) { $('items').replaceChildren(el('li', 'empty', 'Nobody found.')); return; }
    $('items').replaceChildren(...users.map((u) => {
      const li = row(u, 'contact', '@' + u.username);
      li.append(button('Add', 'add-friend', async (b) => {
        const res = await api.friendRequest(u.user_id, '');
        b.textContent = res.status === 201 ? 'Requested' : (res.body && res.body.message) || 'Not sent';
        b.disabled = true;
      }));
      li.onclick = () => ctx.openPeer(u);
      return li;
    }));
  }

  // The header's Block toggle for the open single chat.
  function renderBlock() {
    const a = ctx.active();
    const b = $('block-button');
    b.classList.toggle('hidden', !a || !a.peer);
    if (a && a.peer) b.textContent = blocked.has(a.peer.user_id) ? 'Unblock' : 'Block';
  }

  async function toggleBlock() {
    const a = ctx.active();
    if (!a || !a.peer) return;
    const uid = a.peer.user_id;
    const r = blocked.has(uid) ? await api.unblock(uid) : await api.block(uid);
    if (r.status < 300) {
      if (blocked.has(uid)) blocked.delete(uid);
      else blocked.add(uid);
    }
    renderBlock();
  }

  // After login: the blocks, and the badge.
  async function start() {
    const [b, rq] = await Promise.all([api.blocks(), api.friendRequests()]);
    blocked = new Set(b.status === 200 ? b.body.blocks.map((u) => u.user_id) : []);
    const me = ctx.me() && ctx.me().user_id;
    if (rq.status === 200) setBadge(rq.body.requests.filter((r) => r.to.user_id === me).length);
    renderBlock();
  }

  function onRequest(f) {
    people.learn(f.from);
    if (ctx.mode() === 'contacts') render();
    else api.friendRequests().then((rq) => {
      if (rq.status === 200) setBadge(rq.body.requests.filter((r) => r.to.user_id === ctx.me().user_id).length);
    });
  }

  $('block-button').addEventListener('click', toggleBlock);
  return { render, renderBlock, start, onRequest, reset: () => { loadedPresence = false; } };
}
