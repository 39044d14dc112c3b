// conn.js — the WebSocket: connect with the token, heartbeat, reconnect with exponential
// backoff and jitter (0.5 s doubling to 30 s), and report the state to the UI.
// A gateway refusing new connections from this address (a reconnect storm) sends
// `error rate_limited {retry_after_ms}` and ends the connection: the next try waits at least
// that long, still backing off, and the UI only says "connecting".
export class Conn {
  constructor(tokenFn, handlers) {
    this.tokenFn = tokenFn;
    this.h = handlers;            // {onFrame(f), onState(s), onOpen(hello), onRefused()}
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pinger = null;
    this.closed = true;
    this.retryAfter = 0;          // ms the gateway asked us to wait before reconnecting
    this.upSince = 0;             // when the last hello came
  }

  start() {
    this.closed = false;
    this.open();
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) this.ws.close();
    this.ws = null;
    this.h.onState('offline');
  }

  open() {
    clearTimeout(this.timer);
    this.h.onState('connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/ws?token=${encodeURIComponent(this.tokenFn())}`);
    this.ws = ws;
    let opened = false;
    this.retryAfter = 0;
    ws.onopen = () => { opened = true; };
    ws.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.op === 'error' && f.code === 'rate_limited' && !f.cmid) {   // this connection is refused
        this.retryAfter = Number(f.retry_after_ms) || 1000;
        return;
      }
      if (f.op === 'hello') {
        this.upSince = Date.now();   // the backoff restarts once a connection stays (onclose)
        this.h.onState('online');
        clearInterval(this.pinger);
        this.pinger = setInterval(() => this.send({ op: 'ping' }), Math.max(5, f.heartbeat_s - 2) * 1000);
        this.h.onOpen(f);
        return;
      }
      this.h.onFrame(f);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      clearInterval(this.pinger);
      this.ws = null;
      if (this.closed) return;
      if (this.upSince && Date.now() - this.upSince > 10000) this.attempt = 0;   // it was up: start over
      this.upSince = 0;
      if (this.retryAfter) {   // refused with rate_limited: a busy server, not a broken connection
        this.h.onState('connecting');
        this.retry(this.retryAfter || 1000);
        return;
      }
      this.h.onState('offline');
      // refused before opening: the token may be expired; let the app check it
      if (!opened) this.h.onRefused();
      this.retry();
    };
    ws.onerror = () => {};   // onclose follows and handles it
  }

  // The next try after the backoff, and never sooner than atLeast ms (the server's word).
  retry(atLeast = 0) {
    const base = Math.min(30000, 500 * 2 ** this.attempt++);
    const wait = Math.max(atLeast, base);
    const delay = wait / 2 + Math.random() * wait / 2 + (atLeast ? atLeast / 2 : 0);   // jitter: no thundering herd
    this.timer = setTimeout(() => { if (!this.closed && !this.paused) this.open(); }, delay);
  }

  // The browser says the network is gone: close, and wait for kick() instead of retrying.
  pause() {
    if (this.closed) return;
    this.paused = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this.h.onState('offline');
  }

  // Reconnect now (the browser says it is back online).
  kick() {
    this.paused = false;
    if (!this.closed && !this.ws) { this.attempt = 0; this.open(); }
  }

  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  get online() { return !!this.ws && this.ws.readyState === WebSocket.OPEN; }
}
