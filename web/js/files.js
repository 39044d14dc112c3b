// files.js — images and files in the chat: the attach button (and paste, and drop), one
// pending bubble per upload showing its progress, then a type 2 (image) or 3 (file) send;
// image bubbles (the thumbnail; a click shows the full image in a viewer) and file cards
// (name, size, Download); the list's "[image]" and "[file] name". Everything is read with
// the token: pictures through pictures.js, downloads as a blob saved under the file's name.
// app.js owns the session and hands it over through ctx:
//   {api, pictures, me(), target() -> {cid, to | group} of the open chat or null,
//    sendFile(target, type, content), note(cid, text), changed(cid)}
import { $, el, avatar } from './ui.js';
import { dataUrl } from './pictures.js';

export const IMAGE = 2;
export const FILE = 3;
const SHOWN = 240;   // an image bubble fits this square (thumbnails are up to 320 px)

// The content of an image or file message ({file_id, width, height} or {file_id, name,
// size, content_type}), or null for any other message.
export function fileOf(m) {
  if (m.type !== IMAGE && m.type !== FILE) return null;
  try {
    const c = JSON.parse(m.content);
    return c && typeof c.file_id === 'string' ? c : null;
  } catch (e) {
    return null;
  }
}

// A message's line in the conversation list, or null if it is not an image or file.
export function previewOf(m) {
  const c = fileOf(m);
  if (!c) return null;
  return m.type === IMAGE ? '[image]' : `[file] ${c.name}`;
}

export function humanSize(n) {
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

// How much of an upload has gone: "42%".
export function percent(sent, total) {
  return `${Math.floor(100 * sent / (total || 1))}%`;
}

// Why an upload failed, in words, or null if it did not.
export function uploadProblem(r) {
  if (r.status === 201) return null;
  if (r.status === 413) return 'it is larger than the server accepts';
  if (r.status === 0) return 'the server cannot be reached';
  return (r.body && r.body.message) || `the server answered ${r.status}`;
}

// What the server will store for an upload sent as a message (PROTOCOL.md, type 2 and 3).
function contentOf(f) {
  return f.thumb ? { file_id: f.file_id, width: f.width, height: f.height }
    : { file_id: f.file_id, name: f.name, size: f.size, content_type: f.content_type };
}

// w x h scaled down (never up) to fit a square of side s.
function fit(w, h, s) {
  const k = Math.min(1, s / Math.max(w, h, 1));
  return [Math.max(1, Math.round(w * k)), Math.max(1, Math.round(h * k))];
}

export function createFiles(ctx) {
  const { api, pictures } = ctx;
  const uploads = new Map();   // cid -> [pending upload rows], kept across renders
  let viewing = null;          // the viewer's {bytes: Promise<{blob, name} | null>}

  // ---------- uploading ----------
  // The pending bubble of an upload (its name, a progress bar, the percentage sent) and
  // progress(sent, total), which updates it in place: a re-render keeps the same node.
  function uploadRow(file) {
    const row = el('div', 'row mine pending upload');
    row.dataset.testid = 'upload';
    const bar = el('progress', 'upload-bar');
    bar.max = 1;
    bar.value = 0;
    const bubble = el('div', 'bubble upload-bubble');
    bubble.append(el('div', 'upload-name', file.name || 'file'), bar);
    const stack = el('div', 'stack');
    stack.append(bubble);
    const meta = el('div', 'meta', '0%');
    row.append(avatar(ctx.me()), stack, meta);
    const progress = (sent, total) => {
      bar.value = total ? sent / total : 0;
      meta.textContent = percent(sent, total);
    };
    return { row, progress };
  }

  function setUploading(cid, row, on) {
    const rows = (uploads.get(cid) || []).filter((r) => r !== row);
    if (on) rows.push(row);
    uploads.set(cid, rows);
    ctx.changed(cid);
  }

  // Uploads file to the open chat, then sends it; a refused upload sends nothing.
  async function upload(file) {
    const target = ctx.target();
    const who = ctx.me();
    if (!target) return;
    const { row, progress } = uploadRow(file);
    setUploading(target.cid, row, true);
    const r = await api.upload(file, progress);
    if (ctx.me() !== who) return;   // logged out meanwhile
    setUploading(target.cid, row, false);
    const problem = uploadProblem(r);
    if (problem) {
      ctx.note(target.cid, `Not sent: “${file.name || 'file'}” (${humanSize(file.size)}): ${problem}.`);
      return;
    }
    ctx.sendFile(target, r.body.thumb ? IMAGE : FILE, contentOf(r.body));
  }

  function attach(list) {
    for (const f of list) upload(f);
  }

  // ---------- showing ----------
  // The bytes of a file and its name; on failure a note in the open chat, and null.
  async function bytesOf(fileId) {
    const r = await api.blob(`/api/files/${fileId}`);
    if (r.blob) return { blob: r.blob, name: r.name || `file-${fileId}` };
    const t = ctx.target();
    if (t) ctx.note(t.cid, r.status === 403 ? 'That file is no longer shared with you.' : 'Could not fetch that file.');
    return null;
  }

  // Saves a blob under name, the way a download link would. The blob: URL lives until the
  // browser has read it, which it does after click() returns (FileSaver.js waits likewise).
  function save(f) {
    if (!f) return;
    const a = el('a');
    a.href = URL.createObjectURL(f.blob);
    a.download = f.name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 30000);
  }

  async function download(fileId, name) {
    const f = await bytesOf(fileId);
    if (f) save({ blob: f.blob, name: name || f.name });
  }

  function imageBubble(c) {
    const b = el('div', 'bubble image');
    const path = `/api/files/${c.file_id}/thumb`;
    const i = pictures.img(path, 'thumb');
    [i.width, i.height] = fit(c.width, c.height, SHOWN);   // the room it takes, before it loads
    i.dataset.testid = 'thumb';
    b.onclick = () => view(c.file_id, path);
    b.append(i);
    return b;
  }

  function fileCard(c) {
    const b = el('div', 'bubble file-card');
    b.dataset.testid = 'file-card';
    const info = el('div', 'file-info');
    info.append(el('div', 'file-name', c.name), el('div', 'file-size', humanSize(c.size)));
    const d = el('button', 'small-button', 'Download');
    d.type = 'button';
    d.dataset.testid = 'file-download';
    d.onclick = () => download(c.file_id, c.name);
    b.append(el('div', 'file-icon', '📄'), info, d);
    return b;
  }

  // The bubble of an image or file message, or null for any other.
  function bubble(m) {
    const c = fileOf(m);
    if (!c) return null;
    return m.type === IMAGE ? imageBubble(c) : fileCard(c);
  }

  // ---------- the viewer ----------
  // The thumbnail at once (it is cached), then the full image when it has come.
  function view(fileId, thumbPath) {
    const v = { bytes: bytesOf(fileId) };
    viewing = v;
    const img = $('viewer-img');
    img.src = pictures.entry(thumbPath).url || '';
    $('viewer').classList.remove('hidden');
    v.bytes.then(async (f) => {
      const url = f && await dataUrl(f.blob);
      if (viewing === v && url) img.src = url;
    });
  }

  function closeViewer() {
    viewing = null;
    $('viewer').classList.add('hidden');
    $('viewer-img').removeAttribute('src');   // lets the full image go
  }

  // ---------- wiring ----------
  function wire() {
    $('attach-button').addEventListener('click', () => $('attach-file').click());
    $('attach-file').addEventListener('change', () => {
      attach([...$('attach-file').files]);
      $('attach-file').value = '';   // the same file may be chosen again
    });
    $('input').addEventListener('paste', (ev) => {
      const list = [...((ev.clipboardData && ev.clipboardData.files) || [])];
      if (list.length) { ev.preventDefault(); attach(list); }
    });
    const chat = $('messages');
    chat.addEventListener('dragover', (ev) => {
      if (!ctx.target() || !ev.dataTransfer.types.includes('Files')) return;
      ev.preventDefault();
      chat.classList.add('dropping');
    });
    chat.addEventListener('dragleave', (ev) => { if (!chat.contains(ev.relatedTarget)) chat.classList.remove('dropping'); });
    chat.addEventListener('drop', (ev) => {
      chat.classList.remove('dropping');
      if (!ctx.target() || !ev.dataTransfer.files.length) return;
      ev.preventDefault();
      attach([...ev.dataTransfer.files]);
    });
    $('viewer').addEventListener('click', closeViewer);
    $('viewer-download').addEventListener('click', (ev) => {
      ev.stopPropagation();   // a click anywhere else closes the viewer
      if (viewing) viewing.bytes.then(save);
    });
    document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && viewing) closeViewer(); });
  }

  wire();
  return {
    bubble,
    uploading: (cid) => uploads.get(cid) || [],
    reset: () => { uploads.clear(); closeViewer(); },
  };
}
