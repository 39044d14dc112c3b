// people.js — who a user id is. Profiles are learnt from searches, member lists and
// conversations; the rest (a sender or a system message's target no longer in the group)
// are fetched in batches of up to 100 with GET /api/users?ids=, once each.
export class People {
  constructor(api, onLearn) {
    this.api = api;
    this.onLearn = onLearn;       // called after a fetch taught us new names
    this.known = new Map();       // user id -> {user_id, username, nickname, avatar_url}
    this.wanted = new Set();
    this.timer = null;
  }

  learn(u) { if (u && u.user_id) this.known.set(u.user_id, u); }

  // The profile, or null while it is being fetched.
  get(uid) {
    const u = this.known.get(uid);
    if (!u) this.want(uid);
    return u || null;
  }

  want(uid) {
    if (this.known.has(uid) || this.wanted.has(uid)) return;
    this.wanted.add(uid);
    if (!this.timer) this.timer = setTimeout(() => this.fetch(), 0);
  }

  async fetch() {
    this.timer = null;
    const ids = [...this.wanted].slice(0, 100);
    const r = await this.api.usersByIds(ids);
    for (const id of ids) this.wanted.delete(id);
    if (r.status === 200) for (const u of r.body.users) this.learn(u);
    for (const id of ids)   // unknown or unreachable: a placeholder, not a fetch per render
      if (!this.known.has(id)) this.known.set(id, { user_id: id, username: `user ${id}`, nickname: '' });
    if (this.wanted.size) this.timer = setTimeout(() => this.fetch(), 0);
    this.onLearn();
  }
}
