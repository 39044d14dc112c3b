// pictures.js — pictures that only the bearer token may read (thumbnails, avatars, full
// images): fetched with it and shown through data: URLs. Not blob: URLs, because the
// gateway's Content-Security-Policy (libwebsockets' defaults) allows images from 'self'
// and data: only. Each path is fetched once and kept, the MAX most recently used ones:
// messages are re-rendered often, and a cached picture is shown at once, without a flicker.
const MAX = 300;   // thumbnails fit 320 px (JPEG, tens of KB): a few MB in all

// The data: URL of a blob.
export function dataUrl(blob) {
  return new Promise((resolve) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => resolve(null);
    r.readAsDataURL(blob);
  });
}

export class Pictures {
  constructor(api) {
    this.api = api;
    this.cache = new Map();   // path -> {url: data URL | null while fetching or unreadable, done: Promise}
  }

  // The entry of path, fetched on first use; the Map's order is the order of use.
  entry(path) {
    let e = this.cache.get(path);
    if (e) {
      this.cache.delete(path);
      this.cache.set(path, e);
      return e;
    }
    e = { url: null };
    e.done = this.api.blob(path).then(async (r) => {
      if (r.blob) e.url = await dataUrl(r.blob);
      else if (r.status === 0 || r.status >= 500) this.cache.delete(path);   // try again next time
      return e.url;
    });
    this.cache.set(path, e);
    if (this.cache.size > MAX) this.cache.delete(this.cache.keys().next().value);
    return e;
  }

  // An <img> of class cls showing path: at once if it is cached, else once fetched;
  // removed if it cannot be read (what it covers, an avatar's initial, shows instead).
  img(path, cls) {
    const i = document.createElement('img');
    i.className = cls;
    i.alt = '';
    const e = this.entry(path);
    if (e.url) i.src = e.url;
    else e.done.then((url) => { if (url) i.src = url; else i.remove(); });
    return i;
  }

  // Forget every picture (logout: the next user may not read them).
  clear() { this.cache.clear(); }
}
