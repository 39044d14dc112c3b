// api.js — the REST half of the protocol (docs/PROTOCOL.md). Every call resolves to
// {status, body} ({status, blob, name} for a file's bytes); a 401 on an authenticated
// call fires onUnauthorized (back to login).
export class Api {
  constructor() {
    this.token = null;
    this.onUnauthorized = () => {};
  }

  auth(headers) {
    if (this.token) headers.Authorization = 'Bearer ' + this.token;
    return headers;
  }

  async call(method, path, body) {
    const headers = this.auth(body === undefined ? {} : { 'Content-Type': 'application/json' });
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

  // POST /api/files with the file as the body. XMLHttpRequest rather than fetch: only it
  // reports upload progress, as onProgress(bytes sent, bytes in all).
  upload(file, onProgress) {
    return new Promise((resolve) => {
      const x = new XMLHttpRequest();
      x.open('POST', '/api/files');
      for (const [k, v] of Object.entries(this.auth({ 'X-File-Name': encodeURIComponent(file.name || 'file') })))
        x.setRequestHeader(k, v);
      x.upload.onprogress = (e) => onProgress(e.loaded, e.total);
      x.onload = () => {
        let data = {};
        try { data = JSON.parse(x.responseText); } catch (e) { data = {}; }
        if (x.status === 401) this.onUnauthorized();
        resolve({ status: x.status, body: data });
      };
      x.onerror = () => resolve({ status: 0, body: { error: 'unavailable', message: 'cannot reach the server' } });
      x.send(file);
    });
  }

  // A file's bytes (GET /api/files/{id}, or a thumbnail or avatar path), with the name
  // the server gives it in Content-Disposition.
  async blob(path) {
    try {
      const res = await fetch(path, { headers: this.auth({}) });
      if (res.status === 401 && this.token) this.onUnauthorized();
      return { status: res.status, blob: res.ok ? await res.blob() : null, name: dispositionName(res.headers) };
    } catch (e) {
      return { status: 0, blob: null, name: '' };
    }
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
  updateMe(fields) { return this.call('PATCH', '/api/me', fields); }
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

// The file name of a Content-Disposition header (its UTF-8 filename*), or ''.
function dispositionName(headers) {
  const m = /filename\*=UTF-8''([^;]+)/i.exec(headers.get('Content-Disposition') || '');
  try { return m ? decodeURIComponent(m[1]) : ''; } catch (e) { return ''; }
}
