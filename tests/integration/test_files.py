"""Images and files against the real cluster: POST /api/files (the type sniffed from the
bytes, not the header; an image's size and thumbnail; the size limit with nothing left on
disk), downloads (identical bytes, byte ranges, the headers that keep an upload from
running as a page), who may read a file (the uploader; participants of a conversation
carrying it, single or group; nobody else; not after a recall), type 2/3 sends (content
rebuilt from the stored file, a non-image refused as an image, someone else's file
refused), the content-addressed store, and avatars."""
import collections
import hashlib
import http.client
import json
import os
import struct
import urllib.parse
import uuid
import zlib

import pytest

from client import Client, api, cid_of, gcid, send_group, uname

MAX_UPLOAD = 500000
Anon = collections.namedtuple("Anon", "url token")   # a caller without a token


@pytest.fixture(scope="module")
def fs(infra):
    infra.start("im-repo", "frepo-1")
    infra.start("im-logic", "flogic-1")
    gws = [infra.start_gateway("fgw-%d" % i, CIM_MAX_UPLOAD=MAX_UPLOAD) for i in (1, 2)]
    yield {"infra": infra, "gws": gws, "dir": os.path.join(infra.run, "files")}
    infra.stop_daemons()


def people(fs, n):
    return [Client(fs["gws"][i % 2].url, uname("fi")) for i in range(n)]


def png(w, h):
    """An RGBA PNG of w x h: a gradient with a transparent half."""
    rows = b"".join(b"\0" + b"".join(struct.pack("4B", x % 256, y % 256, 128, 255 if x < w // 2 else 0)
                                     for x in range(w)) for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def jpeg_size(data):
    """(width, height) from a JPEG's SOF marker."""
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    raise AssertionError("no SOF in the thumbnail")


def request(c, method, path, body=None, headers=None, chunked=False):
    """(status, headers dict with lower-case names, raw body bytes)."""
    u = urllib.parse.urlparse(c.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    h = {"Authorization": "Bearer " + c.token} if c.token else {}
    h.update(headers or {})
    if chunked:
        conn.request(method, path, body=iter([body[i:i + 16384] for i in range(0, len(body), 16384)]),
                     headers=h, encode_chunked=True)
    else:
        conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    conn.close()
    return out


def upload(c, data, name="photo.png", content_type="application/octet-stream", **kw):
    status, _, raw = request(c, "POST", "/api/files", data,
                             {"Content-Type": content_type, "X-File-Name": urllib.parse.quote(name)}, **kw)
    return status, json.loads(raw)


def download(c, file_id, thumb=False, headers=None):
    return request(c, "GET", "/api/files/%s%s" % (file_id, "/thumb" if thumb else ""), headers=headers)


def reply_to(c, cmid, timeout=10):
    """The `sent` or `error` frame answering cmid."""
    for _ in range(2):
        try:
            return c.expect("sent", timeout=timeout / 2, where=lambda f: f.get("cmid") == cmid)
        except TimeoutError:
            pass
        try:
            return c.expect("error", timeout=timeout / 2, where=lambda f: f.get("cmid") == cmid)
        except TimeoutError:
            pass
    raise TimeoutError("no answer to " + cmid)


def send_file(c, type_, file_id, to=None, group=None):
    cmid = uuid.uuid4().hex
    frame = {"op": "send", "cmid": cmid, "type": type_, "content": json.dumps({"file_id": file_id})}
    frame.update({"to": to} if to else {"group": group})
    c.send_json(frame)
    return reply_to(c, cmid)


def stored_files(root):
    """Every file under the store, relative paths (temps included)."""
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs_ in os.walk(root) for f in fs_)


def test_image_upload_sniffed_measured_thumbnailed_and_served(fs):
    a, = people(fs, 1)
    data = png(640, 400)
    status, f = upload(a, data, name="héllo wörld.png")
    assert status == 201, f
    assert (f["content_type"], f["width"], f["height"], f["size"], f["name"], f["thumb"]) == \
        ("image/png", 640, 400, len(data), "héllo wörld.png", True)
    assert isinstance(f["file_id"], str) and f["file_id"].isdigit()

    status, h, body = download(a, f["file_id"])
    assert (status, body) == (200, data)
    assert (h["content-type"], h["x-content-type-options"], h["accept-ranges"]) == ("image/png", "nosniff", "bytes")
    assert h["content-disposition"].startswith("inline;")
    assert "filename*=UTF-8''h%C3%A9llo%20w%C3%B6rld.png" in h["content-disposition"]
    assert "sandbox" in h["content-security-policy"]

    status, h, thumb = download(a, f["file_id"], thumb=True)
    assert (status, h["content-type"], thumb[:2]) == (200, "image/jpeg", b"\xff\xd8")
    assert jpeg_size(thumb) == (320, 200)          # fits 320 x 320, aspect kept

    for rng, code, part, crange in (("bytes=10-19", 206, data[10:20], "bytes 10-19/%d" % len(data)),
                                    ("bytes=-5", 206, data[-5:], "bytes %d-%d/%d" % (len(data) - 5, len(data) - 1,
                                                                                      len(data))),
                                    ("bytes=%d-" % (len(data) - 3), 206, data[-3:], None),
                                    ("bytes=0-%d" % (len(data) * 2), 206, data, None)):
        status, h, body = download(a, f["file_id"], headers={"Range": rng})
        assert (status, body) == (code, part), rng
        if crange:
            assert h["content-range"] == crange
    status, _, _ = download(a, f["file_id"], headers={"Range": "bytes=%d-" % len(data)})
    assert status == 416
    status, _, body = download(a, f["file_id"], headers={"Range": "bytes=0-1,5-6"})   # several: the whole
    assert (status, body) == (200, data)


def test_who_may_read_a_file_single_chat_and_recall(fs):
    a, b, outsider = people(fs, 3)
    for c in (a, b, outsider):
        c.connect()
    data = png(64, 48)
    _, f = upload(a, data)
    fid = f["file_id"]
    for who in (b, outsider):                      # nobody but the uploader, yet
        assert download(who, fid)[0] == 403
    assert request(Anon(a.url, None), "GET", "/api/files/" + fid)[0] == 401
    assert download(a, "999999999999")[0] == 404

    sent = send_file(a, 2, fid, to=b.user_id)
    assert sent["op"] == "sent", sent
    msg = b.expect("msg")["message"]
    assert (msg["type"], json.loads(msg["content"])) == (2, {"file_id": fid, "width": 64, "height": 48})
    status, _, body = download(b, fid)
    assert (status, body) == (200, data)           # a participant now
    assert download(b, fid, thumb=True)[0] == 200
    assert download(outsider, fid)[0] == 403       # still nobody else

    # the outsider cannot send (and so gain access through) a file that is not theirs
    refused = send_file(outsider, 2, fid, to=a.user_id)
    assert (refused["op"], refused["code"]) == ("error", "forbidden")
    # b may forward what it can read; its peer then may read it too
    fwd = send_file(b, 2, fid, to=outsider.user_id)
    assert fwd["op"] == "sent", fwd
    outsider.expect("msg")
    assert download(outsider, fid)[0] == 200

    # a recall takes the access it gave
    a.send_json({"op": "recall", "conversation_id": cid_of(a.user_id, b.user_id), "seq": sent["seq"]})
    a.expect("recalled")
    b.expect("recalled")
    b.send_json({"op": "recall", "conversation_id": cid_of(b.user_id, outsider.user_id), "seq": fwd["seq"]})
    b.expect("recalled")
    assert download(outsider, fid)[0] == 403
    assert download(b, fid)[0] == 403
    assert download(a, fid)[0] == 200              # the uploader keeps it
    for c in (a, b, outsider):
        c.close()


def test_group_members_read_group_files(fs):
    owner, member, stranger = people(fs, 3)
    for c in (owner, member):
        c.connect()
    status, g = api(owner, "POST", "/api/groups", {"name": "pics", "member_ids": [member.user_id]})
    assert status == 201, g
    _, f = upload(owner, b"%PDF-1.4\n" + os.urandom(3000) + b"\n%%EOF\n", name="report.pdf",
                  content_type="image/png")
    assert (f["content_type"], "width" in f, "thumb" in f) == ("application/pdf", False, False)
    cmid = send_group(owner, g["group_id"], json.dumps({"file_id": f["file_id"]}), type=3)
    sent = reply_to(owner, cmid)
    assert sent["op"] == "sent", sent
    msg = member.expect("msg", where=lambda m: m["message"]["conversation_id"] == gcid(g["group_id"])
                        and m["message"]["type"] == 3)["message"]
    assert json.loads(msg["content"]) == {"file_id": f["file_id"], "name": "report.pdf", "size": f["size"],
                                          "content_type": "application/pdf"}
    status, h, _ = download(member, f["file_id"])
    assert (status, h["content-type"]) == (200, "application/octet-stream")   # not an image: an attachment
    assert h["content-disposition"].startswith('attachment; filename="report.pdf"')
    assert download(stranger, f["file_id"])[0] == 403
    assert download(member, f["file_id"], thumb=True)[0] == 404
    for c in (owner, member):
        c.close()


def test_html_uploaded_as_png_is_never_served_as_an_image(fs):
    a, b = people(fs, 2)
    a.connect()
    page = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"
    status, f = upload(a, page, name="cute.png", content_type="image/png")
    assert status == 201, f
    assert (f["content_type"], "width" in f, "thumb" in f) == ("text/html", False, False)
    status, h, body = download(a, f["file_id"])
    assert (status, body) == (200, page)
    assert (h["content-type"], h["x-content-type-options"]) == ("application/octet-stream", "nosniff")
    assert h["content-disposition"].startswith("attachment;")
    assert "sandbox" in h["content-security-policy"]
    assert download(a, f["file_id"], thumb=True)[0] == 404
    refused = send_file(a, 2, f["file_id"], to=b.user_id)                       # not an image
    assert (refused["op"], refused["code"]) == ("error", "invalid_argument")
    sent = send_file(a, 3, f["file_id"], to=b.user_id)                          # a file it is
    assert sent["op"] == "sent", sent
    a.close()


def test_bad_sends_and_uploads(fs):
    a, b = people(fs, 2)
    a.connect()
    for content in ("not json", json.dumps({"file_id": "abc"}), json.dumps({"name": "x"})):
        cmid = uuid.uuid4().hex
        a.send_json({"op": "send", "cmid": cmid, "to": b.user_id, "type": 2, "content": content})
        r = reply_to(a, cmid)
        assert (r["op"], r["code"]) == ("error", "invalid_argument"), content
    r = send_file(a, 3, "123456789", to=b.user_id)
    assert (r["op"], r["code"]) == ("error", "not_found")
    status, body = upload(a, b"")
    assert (status, body["error"]) == (400, "invalid_argument")
    status, body = upload(a, b"x" * 10, name="a\x01b/../../etc")
    assert status == 201 and body["name"] == "file"                            # a name that is no name
    a.close()


def test_oversized_upload_refused_with_nothing_left_on_disk(fs):
    a, = people(fs, 1)
    before = stored_files(fs["dir"])
    big = os.urandom(MAX_UPLOAD + 1)
    status, body = upload(a, big)                      # Content-Length says so: refused up front
    assert (status, body["error"]) == (413, "too_large")
    with pytest.raises(http.client.RemoteDisconnected):   # no length (chunked): libwebsockets closes
        upload(a, big, chunked=True)
    assert stored_files(fs["dir"]) == before
    status, body = upload(a, big[:MAX_UPLOAD])         # at the limit: fine
    assert status == 201, body


def test_same_bytes_are_stored_once(fs):
    a, b = people(fs, 2)
    data = png(33, 17)
    _, f1 = upload(a, data, name="one.png")
    _, f2 = upload(b, data, name="two.png")
    assert f1["file_id"] != f2["file_id"] and (f1["name"], f2["name"]) == ("one.png", "two.png")
    blobs = [p for p in stored_files(fs["dir"]) if not p.startswith("tmp") and not p.endswith(".thumb.jpg")]
    sha = hashlib.sha256(data).hexdigest()
    assert blobs.count(os.path.join(sha[:2], sha)) == 1
    assert download(b, f1["file_id"])[0] == 403       # same bytes, not the same file


def test_avatar(fs):
    a, b = people(fs, 2)
    _, img = upload(a, png(100, 100))
    _, other = upload(b, png(10, 10))
    _, page = upload(a, b"<html></html>")
    status, me = api(a, "PATCH", "/api/me", {"avatar_file_id": img["file_id"]})
    assert status == 200, me
    assert (me["avatar_url"], me["nickname"]) == ("/api/files/%s/thumb" % img["file_id"], a.username)
    status, body = api(b, "GET", "/api/users?ids=%d" % a.user_id)
    assert body["users"][0]["avatar_url"] == me["avatar_url"], body
    status, h, _ = request(b, "GET", me["avatar_url"])
    assert (status, h["content-type"]) == (200, "image/jpeg")                 # an avatar is public
    for fid in (other["file_id"], page["file_id"], "77777"):                 # not yours; not an image; none
        status, body = api(a, "PATCH", "/api/me", {"avatar_file_id": fid})
        assert (status, body["error"]) == (400, "invalid_argument"), fid
    status, me = api(a, "PATCH", "/api/me", {"nickname": "Ann"})
    assert (me["nickname"], me["avatar_url"]) == ("Ann", "/api/files/%s/thumb" % img["file_id"])
