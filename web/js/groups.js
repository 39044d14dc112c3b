// groups.js — the group half of the web client: what the client knows of each group
// (info, members, read positions), the "New group" dialog, the member panel (invite,
// kick, roles, rename, leave), the @ picker and the text of system messages (type 100).
// app.js owns the session and the chat view and hands them over through ctx:
//   {api, people, me(), store(), active(), openChat(cid), refreshConversations(), rerender()}
import { $, el, avatar, nameOf } from './ui.js';
import { groupCid, gidOf } from './store.js';

const RANK = { member: 1, admin: 2, owner: 3 };
const MEMBERS_SHOWN = 1000;   // the panel and the @ picker load at most this many
const READS_MAX = 100;        // "n read" in groups up to receipts_group_limit (default 100)

export function createGroups(ctx) {
  const groups = new Map();   // gid -> {info, members: Map(uid -> member), reads: Map(uid -> seq)}
  const { api, people } = ctx;

  function state(gid) {
    let g = groups.get(gid);
    if (!g) { g = { info: null, members: new Map(), reads: new Map() }; groups.set(gid, g); }
    return g;
  }

  const myRank = (gid) => RANK[(state(gid).info || {}).my_role] || 0;
  const who = (uid, you) => (uid === ctx.me().user_id ? you : nameOf(people.get(uid)));

  // Info, members and read positions of a group; false if we are not (or no longer) in it.
  async function load(gid) {
    const g = state(gid);
    const r = await api.group(gid);
    if (r.status === 403 || r.status === 404) { g.info = null; ctx.store().conv(groupCid(gid)).left = true; return false; }
    if (r.status !== 200) return !!g.info;
    g.info = r.body;
    const c = ctx.store().conv(groupCid(gid));
    c.left = false;
    c.group = { group_id: gid, name: g.info.name, member_count: g.info.member_count };
    const members = new Map();
    let after = null;
    do {
      const m = await api.members(gid, after);
      if (m.status !== 200) break;
      for (const x of m.body.members) { members.set(x.user_id, x); people.learn(x); }
      after = m.body.next;
    } while (after && members.size < MEMBERS_SHOWN);
    g.members = members;
    if (g.info.member_count <= READS_MAX) {
      const rd = await api.reads(groupCid(gid));
      if (rd.status === 200) g.reads = new Map(rd.body.reads.map((x) => [x.user_id, x.last_read_seq]));
    }
    return true;
  }

  // ---------- messages ----------
  function systemText(m) {
    let e;
    try { e = JSON.parse(m.content); } catch (err) { return m.content; }
    const a = who(e.actor, 'You');
    const t = (e.targets || []).map((uid) => who(uid, 'you')).join(', ');
    switch (e.event) {
      case 'create': return `${a} created the group “${e.name}”${t ? ' with ' + t : ''}`;
      case 'invite': return `${a} invited ${t}`;
      case 'join': return `${a} joined the group`;
      case 'leave': return `${a} left the group`;
      case 'kick': return `${a} removed ${t}`;
      case 'role':
        if (e.role === 'owner') return `${a} handed the group over to ${t}`;
        return e.role === 'admin' ? `${a} made ${t} an admin` : `${a} made ${t} a member`;
      case 'rename': return `${a} renamed the group to “${e.name}”`;
      case 'announcement': return `${a} posted an announcement: ${e.announcement}`;
      default: return `${a} changed the group`;
    }
  }

  // A system message arrived (push or sync): the group changed, reload what we show.
  async function onSystem(m) {
    const gid = gidOf(m.conversation_id);
    if (!gid) return;
    let e;
    try { e = JSON.parse(m.content); } catch (err) { return; }
    const me = ctx.me().user_id;
    if ((e.event === 'kick' || e.event === 'leave') && (e.targets || [e.actor]).includes(me)) {
      ctx.store().conv(m.conversation_id).left = true;
      groups.delete(gid);
    } else if (groups.has(gid)) {
      await load(gid);
    }
    if (!$('panel').classList.contains('hidden')) renderPanel();
    ctx.rerender();
  }

  function onReceipt(f) {
    const gid = gidOf(f.conversation_id);
    if (!gid || !groups.has(gid)) return false;
    const reads = state(gid).reads;
    reads.set(f.user_id, Math.max(reads.get(f.user_id) || 0, f.seq));
    return true;
  }

  // "n read" under my message of seq in a group, or null where it is not shown.
  function readCount(cid, seq) {
    const g = groups.get(gidOf(cid));
    if (!g || !g.info || g.info.member_count > READS_MAX) return null;
    let n = 0;
    for (const [uid, s] of g.reads) if (uid !== ctx.me().user_id && s >= seq) n++;
    return n;
  }

  // ---------- the member panel ----------
  function togglePanel() {
    const p = $('panel');
    p.classList.toggle('hidden');
    if (!p.classList.contains('hidden')) renderPanel();
  }

  async function act(promise) {
    const r = await promise;
    $('panel-error').textContent = r.status >= 300 ? (r.body && r.body.message) || 'That did not work.' : '';
    const a = ctx.active();
    if (a && a.gid) await load(a.gid);
    renderPanel();
    ctx.rerender();
    return r;
  }

  function memberRow(gid, m, rank) {
    const li = el('li', 'member');
    li.dataset.testid = 'member';
    li.dataset.uid = String(m.user_id);
    li.append(avatar(m), el('span', 'member-name', nameOf(m) + (m.user_id === ctx.me().user_id ? ' (you)' : '')),
              el('span', 'role ' + m.role, m.role));
    if (m.user_id === ctx.me().user_id) return li;
    const actions = el('div', 'member-actions');
    if (rank === RANK.owner) {
      const b = el('button', '', m.role === 'admin' ? 'Make member' : 'Make admin');
      b.type = 'button';
      b.dataset.testid = 'role';
      b.onclick = () => act(api.setRole(gid, m.user_id, m.role === 'admin' ? 'member' : 'admin'));
      actions.append(b);
    }
    if (rank >= RANK.admin && RANK[m.role] < rank) {
      const b = el('button', '', 'Remove');
      b.type = 'button';
      b.dataset.testid = 'kick';
      b.onclick = () => act(api.removeMember(gid, m.user_id));
      actions.append(b);
    }
    if (actions.childElementCount) li.append(actions);
    return li;
  }

  function renderPanel() {
    const a = ctx.active();
    const g = a && a.gid ? groups.get(a.gid) : null;
    if (!g || !g.info) { $('panel').classList.add('hidden'); return; }
    const rank = myRank(a.gid);
    $('panel-title').textContent = `${g.info.name} (${g.info.member_count})`;
    $('panel-rename').classList.toggle('hidden', rank < RANK.admin);
    if (document.activeElement !== $('panel-name')) $('panel-name').value = g.info.name;
    $('panel-announcement').textContent = g.info.announcement || '';
    $('panel-invite').classList.toggle('hidden', rank < RANK.admin && !g.info.open);
    $('panel-leave').disabled = rank === RANK.owner;
    $('panel-leave').title = rank === RANK.owner ? 'Hand the group over to another member first' : '';
    const list = [...g.members.values()].sort((x, y) => RANK[y.role] - RANK[x.role] || nameOf(x).localeCompare(nameOf(y)));
    $('panel-members').replaceChildren(...list.map((m) => memberRow(a.gid, m, rank)));
  }

  async function searchInvite() {
    const a = ctx.active();
    const q = $('invite-search').value.trim();
    if (!a || !a.gid || !q) { $('invite-results').replaceChildren(); return; }
    const r = await api.searchUsers(q);
    if ($('invite-search').value.trim() !== q) return;
    const g = state(a.gid);
    const users = r.status === 200 ? r.body.users.filter((u) => !g.members.has(u.user_id)) : [];
    $('invite-results').replaceChildren(...users.map((u) => {
      people.learn(u);
      const li = el('li', 'member');
      li.dataset.testid = 'invite-candidate';
      const b = el('button', '', 'Invite');
      b.type = 'button';
      b.onclick = async () => { await act(api.invite(a.gid, [u.user_id])); $('invite-search').value = ''; searchInvite(); };
      li.append(avatar(u), el('span', 'member-name', nameOf(u)), b);
      return li;
    }));
  }

  // ---------- the New group dialog ----------
  const picked = new Map();   // uid -> user

  function renderPicked() {
    $('group-picked').replaceChildren(...[...picked.values()].map((u) => {
      const c = el('span', 'chip', nameOf(u) + ' ×');
      c.onclick = () => { picked.delete(u.user_id); renderPicked(); renderCandidates(lastCandidates); };
      return c;
    }));
  }

  let lastCandidates = [];
  function renderCandidates(users) {
    lastCandidates = users;
    $('group-candidates').replaceChildren(...users.map((u) => {
      const li = el('li', 'candidate' + (picked.has(u.user_id) ? ' picked' : ''));
      li.dataset.testid = 'candidate';
      li.append(avatar(u), el('span', '', `${nameOf(u)} @${u.username}`));
      li.onclick = () => {
        if (picked.has(u.user_id)) picked.delete(u.user_id);
        else picked.set(u.user_id, u);
        renderPicked();
        renderCandidates(lastCandidates);
      };
      return li;
    }));
  }

  // Candidates: the people of your single chats, or a username search.
  async function searchCandidates() {
    const q = $('group-search').value.trim();
    if (!q) {
      renderCandidates(ctx.store().list().filter((c) => c.peer).map((c) => c.peer));
      return;
    }
    const r = await api.searchUsers(q);
    if ($('group-search').value.trim() !== q) return;
    renderCandidates(r.status === 200 ? r.body.users : []);
  }

  function openNewGroup() {
    picked.clear();
    $('group-name').value = '';
    $('group-search').value = '';
    $('group-error').textContent = '';
    renderPicked();
    searchCandidates();
    $('new-group').classList.remove('hidden');
    $('group-name').focus();
  }

  async function createGroup(ev) {
    ev.preventDefault();
    const name = $('group-name').value.trim();
    if (!name) { $('group-error').textContent = 'Give the group a name.'; return; }
    const r = await api.createGroup(name, [...picked.keys()]);
    if (r.status !== 201) { $('group-error').textContent = (r.body && r.body.message) || 'Could not create the group.'; return; }
    $('new-group').classList.add('hidden');
    await ctx.refreshConversations();
    ctx.openChat(r.body.conversation_id);
  }

  // ---------- the @ picker ----------
  const chosen = new Map();   // "@Name" -> user id or 'all', for the message being written
  let options = [];
  let sel = 0;

  function pickerQuery() {
    const t = $('input');
    const m = /(^|\s)@([^\s@]*)$/.exec(t.value.slice(0, t.selectionStart));
    return m ? m[2].toLowerCase() : null;
  }

  function renderPicker() {
    const a = ctx.active();
    const q = a && a.gid ? pickerQuery() : null;
    const box = $('mention-picker');
    if (q === null) { box.classList.add('hidden'); return; }
    const me = ctx.me().user_id;
    options = [...state(a.gid).members.values()]
      .filter((m) => m.user_id !== me && (nameOf(m).toLowerCase().includes(q) || m.username.toLowerCase().startsWith(q)))
      .slice(0, 8)
      .map((m) => ({ id: m.user_id, label: nameOf(m) }));
    if (myRank(a.gid) >= RANK.admin && 'all'.startsWith(q)) options.unshift({ id: 'all', label: 'all' });
    if (!options.length) { box.classList.add('hidden'); return; }
    sel = Math.min(sel, options.length - 1);
    box.replaceChildren(...options.map((o, i) => {
      const li = el('li', i === sel ? 'sel' : '', o.id === 'all' ? '@all — everyone' : '@' + o.label);
      li.dataset.testid = 'mention-option';
      li.onmousedown = (ev) => { ev.preventDefault(); pick(o); };
      return li;
    }));
    box.classList.remove('hidden');
  }

  function pick(o) {
    const t = $('input');
    const before = t.value.slice(0, t.selectionStart).replace(/@([^\s@]*)$/, '@' + o.label + ' ');
    t.value = before + t.value.slice(t.selectionStart);
    t.selectionStart = t.selectionEnd = before.length;
    chosen.set('@' + o.label, o.id);
    $('mention-picker').classList.add('hidden');
    t.focus();
  }

  // Keys while the picker is open; true if the key was the picker's.
  function pickerKey(ev) {
    if ($('mention-picker').classList.contains('hidden')) return false;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      sel = (sel + (ev.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length;
      renderPicker();
    } else if (ev.key === 'Enter' || ev.key === 'Tab') {
      pick(options[sel]);
    } else if (ev.key === 'Escape') {
      $('mention-picker').classList.add('hidden');
    } else {
      return false;
    }
    ev.preventDefault();
    return true;
  }

  // The mentions of text as sent: the picked names still in it; @all alone if picked.
  function takeMentions(text) {
    const ids = [];
    for (const [name, id] of chosen) if (text.includes(name) && !ids.includes(id)) ids.push(id);
    chosen.clear();
    return ids.includes('all') ? ['all'] : ids;
  }

  function wire() {
    $('plus').addEventListener('click', () => $('plus-menu').classList.toggle('hidden'));
    $('new-group-open').addEventListener('click', () => { $('plus-menu').classList.add('hidden'); openNewGroup(); });
    $('group-cancel').addEventListener('click', () => $('new-group').classList.add('hidden'));
    $('new-group-form').addEventListener('submit', createGroup);
    let timer = null;
    $('group-search').addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(searchCandidates, 150); });
    $('invite-search').addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(searchInvite, 150); });
    $('group-button').addEventListener('click', togglePanel);
    $('panel-close').addEventListener('click', () => $('panel').classList.add('hidden'));
    $('panel-rename').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const a = ctx.active();
      const name = $('panel-name').value.trim();
      if (a && a.gid && name) act(api.updateGroup(a.gid, { name }));
    });
    $('panel-leave').addEventListener('click', async () => {
      const a = ctx.active();
      if (!a || !a.gid) return;
      const r = await act(api.removeMember(a.gid, ctx.me().user_id));
      if (r.status < 300) { ctx.store().conv(a.cid).left = true; $('panel').classList.add('hidden'); ctx.rerender(); }
    });
    $('input').addEventListener('input', renderPicker);
    $('input').addEventListener('blur', () => $('mention-picker').classList.add('hidden'));
  }

  wire();
  return { load, info: (gid) => state(gid).info, canModerate: (gid) => !!gid && myRank(gid) >= RANK.admin, systemText, onSystem, onReceipt, readCount, renderPanel,
           pickerKey, takeMentions, reset: () => { groups.clear(); chosen.clear(); $('panel').classList.add('hidden'); } };
}
