// store.js — the client's state, pure logic (no DOM): conversations, messages by seq,
// the outbox of sends not yet acknowledged, unread counts, seq-gap detection.
export function cidOf(a, b) {
  return `s_${Math.min(a, b)}_${Math.max(a, b)}`;
}

export function groupCid(gid) { return `g_${gid}`; }
export function gidOf(cid) { return cid.startsWith('g_') ? Number(cid.slice(2)) : 0; }

// Whether message m mentions user uid (by id, or @all).
export function mentionsOf(m, uid) {
  return Array.isArray(m.mentions) && m.mentions.some((x) => x === 'all' || Number(x) === uid);
}

export function newCmid() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export class Store {
  constructor(userId, storage) {
    this.me = userId;
    this.storage = storage;          // localStorage (or a stand-in)
    this.convs = new Map();          // cid -> {cid, peer | group, maxSeq, lastRead, unread, mentioned, last}
    this.msgs = new Map();           // cid -> Map(seq -> message)
    this.byId = new Set();           // msg_ids seen (dedup)
    this.outbox = new Map();         // cmid -> {cmid, to | group, cid, type, content, mentions, created}
    const saved = storage.getItem(this.outboxKey());
    if (saved) for (const o of JSON.parse(saved)) this.outbox.set(o.cmid, o);
  }

  outboxKey() { return 'cim.outbox.' + this.me; }
  saveOutbox() { this.storage.setItem(this.outboxKey(), JSON.stringify([...this.outbox.values()])); }

  conv(cid) {
    let c = this.convs.get(cid);
    if (!c) {
      c = { cid, peer: null, group: null, left: false, maxSeq: 0, lastRead: 0, unread: 0, mentioned: false, last: null };
      this.convs.set(cid, c);
    }
    return c;
  }

  // From GET /api/conversations.
  loadConversations(list) {
    for (const v of list) {
      const c = this.conv(v.conversation_id);
      c.peer = v.peer || c.peer;
      if (v.group) c.group = { ...c.group, ...v.group };
      c.mentioned = !!v.mentioned;
      c.maxSeq = Math.max(c.maxSeq, v.max_seq);
      c.lastRead = Math.max(c.lastRead, v.last_read_seq);
      c.unread = v.unread;
      if (v.last_message && (!c.last || v.last_message.seq >= c.last.seq)) c.last = v.last_message;
    }
  }

  // Highest seq we hold with nothing missing below it, from 0.
  contiguous(cid) {
    const m = this.msgs.get(cid);
    if (!m) return 0;
    let s = this.lowest(cid) - 1;
    if (s < 0) return 0;
    while (m.has(s + 1)) s++;
    return s;
  }

  lowest(cid) {
    const m = this.msgs.get(cid);
    if (!m || m.size === 0) return 0;
    return Math.min(...m.keys());
  }

  highest(cid) {
    const m = this.msgs.get(cid);
    return m && m.size ? Math.max(...m.keys()) : 0;
  }

  // Adds a message; returns {added, gapFrom} — gapFrom set when seqs are missing before it.
  add(msg) {
    if (this.byId.has(msg.msg_id)) return { added: false };
    this.byId.add(msg.msg_id);
    let m = this.msgs.get(msg.conversation_id);
    if (!m) { m = new Map(); this.msgs.set(msg.conversation_id, m); }
    const before = this.highest(msg.conversation_id);
    m.set(msg.seq, msg);
    const c = this.conv(msg.conversation_id);
    c.maxSeq = Math.max(c.maxSeq, msg.seq);
    if (!c.last || msg.seq >= c.last.seq) c.last = msg;
    if (msg.sender_id === this.me && this.outbox.delete(msg.cmid)) this.saveOutbox();
    const gapFrom = before > 0 && msg.seq > before + 1 ? before : null;
    return { added: true, gapFrom };
  }

  sorted(cid) {
    const m = this.msgs.get(cid);
    return m ? [...m.values()].sort((a, b) => a.seq - b.seq) : [];
  }

  // target: {to: user id} or {group: group id}; opts: {mentions: user ids or ['all']
  // (groups), type: 1 text (default), 2 image, 3 file}. An image's or file's content is
  // what the server will store ({file_id, …}); the send names only its file_id.
  queue(target, content, opts = {}) {
    const cid = target.group ? groupCid(target.group) : cidOf(this.me, target.to);
    const o = { cmid: newCmid(), to: target.to, group: target.group, cid, type: opts.type || 1, content,
                mentions: opts.mentions || [], created: Date.now() };
    this.outbox.set(o.cmid, o);
    this.saveOutbox();
    return o;
  }

  acked(cmid) {
    const had = this.outbox.delete(cmid);
    if (had) this.saveOutbox();
    return had;
  }

  pending(cid) { return [...this.outbox.values()].filter((o) => o.cid === cid); }

  // Conversations, most recent first.
  list() {
    return [...this.convs.values()].sort((a, b) => ((b.last && b.last.created_at) || 0) - ((a.last && a.last.created_at) || 0));
  }
}
