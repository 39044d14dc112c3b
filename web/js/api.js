// api.js — the REST half of the protocol (docs/PROTOCOL.md). Every call resolves to
// {status, body}; a 401 on an authenticated call fires onUnauthorized (back to login).
export class Api {
  constructor() {
    this.token = null;
    this.onUnauthorized = () => {};
  }

  async call(method, path, body) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.token) headers.Authorization = 'Bearer ' + this.token;
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      return { status: 0, body: { error: 'unavailable', message: 'cannot reach the server' } };
    }
    let data = null;
    try { data = await res.json(); } catch (e) { data = {}; }
    if (res.status === 401 && this.token) this.onUnauthorized();
    return { status: res.status, body: data };
  }

  register(username, password, nickname) { return this.call('POST', '/api/register', { username, password, nickname }); }
  login(username, password) { return this.call('POST', '/api/login', { username, password }); }
  me() { return this.call('GET', '/api/me'); }
  logout() { return this.call('POST', '/api/logout'); }
  friendRequest(userId, message) { return this.call('POST', '/api/friends/requests', { user_id: userId, message }); }
  friendRequests() { return this.call('GET', '/api/friends/requests'); }
  answerRequest(id, accept) { return this.call('POST', `/api/friends/requests/${id}/${accept ? 'accept' : 'decline'}`); }
  friends() { return this.call('GET', '/api/friends'); }
  block(userId) { return this.call('POST', '/api/blocks', { user_id: userId }); }
  unblock(userId) { return this.call('DELETE', `/api/blocks/${userId}`); }
  blocks() { return this.call('GET', '/api/blocks'); }
  presence(ids) { return this.call('GET', '/api/presence?ids=' + ids.join(',')); }
  updateMe(nickname) { return this.call('PATCH', '/api/me', { nickname }); }
  searchUsers(q) { return this.call('GET', '/api/users?q=' + encodeURIComponent(q)); }
  conversations() { return this.call('GET', '/api/conversations'); }
  usersByIds(ids) { return this.call('GET', '/api/users?ids=' + ids.join(',')); }
  reads(cid) { return this.call('GET', `/api/conversations/${encodeURIComponent(cid)}/reads`); }
  createGroup(name, memberIds) { return this.call('POST', '/api/groups', { name, member_ids: memberIds }); }
  group(gid) { return this.call('GET', `/api/groups/${gid}`); }
  updateGroup(gid, fields) { return this.call('PATCH', `/api/groups/${gid}`, fields); }
  members(gid, after) { return this.call('GET', `/api/groups/${gid}/members?limit=200${after ? '&after=' + after : ''}`); }
  invite(gid, userIds) { return this.call('POST', `/api/groups/${gid}/members`, { user_ids: userIds }); }
  removeMember(gid, uid) { return this.call('DELETE', `/api/groups/${gid}/members/${uid}`); }
  setRole(gid, uid, role) { return this.call('PUT', `/api/groups/${gid}/members/${uid}`, { role }); }
  history(cid, beforeSeq, limit) {
    return this.call('GET', `/api/conversations/${encodeURIComponent(cid)}/messages?before_seq=${beforeSeq}&limit=${limit}`);
  }
}
