#!/usr/bin/env python3
"""etcd_sd.py ETCD_URL OUT_JSON [SECONDS] — keep a Prometheus file_sd targets file in step
with the daemons registered in etcd.

Every SECONDS (default 3) it reads /im/services/ through etcd's v3 JSON gateway
(POST /v3/kv/range) and writes one target group per registered instance: the
registration's "admin" host:port, labelled service=<service> and cim_instance=<instance>.
The file is replaced atomically (write + rename) and only when it changes, so Prometheus
never reads half a file. A registration without an admin address is skipped; when etcd
does not answer the last file stays. With --once it writes once and exits (status 1 if
etcd did not answer). Runs until SIGTERM."""
import base64
import json
import os
import signal
import sys
import time
import urllib.request

PREFIX = b"/im/services/"


def b64(b):
    return base64.b64encode(b).decode()


def read_targets(etcd):
    end = PREFIX[:-1] + bytes([PREFIX[-1] + 1])   # the prefix's range end
    body = json.dumps({"key": b64(PREFIX), "range_end": b64(end)}).encode()
    req = urllib.request.Request(etcd.rstrip("/") + "/v3/kv/range", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=2) as r:
        kvs = json.load(r).get("kvs", [])
    groups = []
    for kv in kvs:
        key = base64.b64decode(kv["key"]).decode()
        parts = key[len(PREFIX):].split("/") if key.startswith(PREFIX.decode()) else []
        if len(parts) != 2:
            continue
        try:
            admin = json.loads(base64.b64decode(kv.get("value", ""))).get("admin", "")
        except ValueError:
            continue
        if admin:
            groups.append({"targets": [admin], "labels": {"service": parts[0], "cim_instance": parts[1]}})
    groups.sort(key=lambda g: (g["labels"]["service"], g["labels"]["cim_instance"]))
    return groups


def write(out, groups):
    text = json.dumps(groups, indent=1) + "\n"
    try:
        with open(out) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out)


def main():
    args = [a for a in sys.argv[1:] if a != "--once"]
    once = "--once" in sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    etcd, out = args[0], args[1]
    every = float(args[2]) if len(args) > 2 else 3.0
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        try:
            write(out, read_targets(etcd))
            if once:
                return
        except (OSError, ValueError) as e:
            if once:
                sys.exit("etcd_sd: %s" % e)
            print("etcd_sd: %s" % e, file=sys.stderr, flush=True)
        time.sleep(every)


if __name__ == "__main__":
    main()
