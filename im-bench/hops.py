"""hops.py RUN_DIR: the per-hop latency breakdown of a local cluster, from its daemons'
cim_hop_*_seconds histograms (summed over instances), as p50/p90/p99 in ms.

Run it before and after a bench with --since FILE / --save FILE to get the run alone:
  hops.py RUN --save /tmp/h0; <bench>; hops.py RUN --since /tmp/h0"""
import base64
import json
import re
import sys
import urllib.request

HOPS = [("cim_hop_upstream_seconds", "gateway read -> logic consumed (Kafka hop 1)"),
        ("cim_hop_logic_seconds", "logic: dedup, seq, commit, push"),
        ("cim_hop_downstream_seconds", "logic produced -> gateway consumed (Kafka hop 2)"),
        ("cim_hop_server_seconds", "gateway read -> frame queued at recipient (server total)")]


def admins(run):
    port = re.search(r"CIM_ETCD_PORT=(\d+)", open(run + "/ports.env").read()).group(1)
    key = base64.b64encode(b"/im/services/").decode()
    end = base64.b64encode(b"/im/services0").decode()
    req = urllib.request.Request("http://127.0.0.1:%s/v3/kv/range" % port, method="POST",
                                 data=json.dumps({"key": key, "range_end": end}).encode())
    kvs = json.loads(urllib.request.urlopen(req, timeout=5).read()).get("kvs", [])
    return [json.loads(base64.b64decode(kv["value"]))["admin"] for kv in kvs]


def scrape(run):
    """{metric: {le: cumulative count}} summed over every daemon."""
    out = {}
    for admin in admins(run):
        text = urllib.request.urlopen("http://%s/metrics" % admin, timeout=5).read().decode()
        for name, le, v in re.findall(r'^(cim_hop_\w+)_bucket\{le="([^"]+)"\} (\d+)$', text, re.M):
            b = out.setdefault(name, {})
            b[le] = b.get(le, 0) + int(v)
    return out


def quantile(buckets, q):
    les = sorted(buckets, key=lambda le: float("inf") if le == "+Inf" else float(le))
    total = buckets[les[-1]]
    if total == 0:
        return None
    prev_le, prev_c = 0.0, 0
    for le in les:
        c = buckets[le]
        if c >= q * total:
            hi = float(le) if le != "+Inf" else prev_le
            frac = (q * total - prev_c) / (c - prev_c) if c > prev_c else 1
            return 1000 * (prev_le + (hi - prev_le) * frac)
        prev_le, prev_c = (float(le) if le != "+Inf" else prev_le), c
    return None


def main():
    run, args = sys.argv[1], sys.argv[2:]
    now = scrape(run)
    if "--save" in args:
        json.dump(now, open(args[args.index("--save") + 1], "w"))
        return
    if "--since" in args:
        before = json.load(open(args[args.index("--since") + 1]))
        now = {n: {le: c - before.get(n, {}).get(le, 0) for le, c in b.items()} for n, b in now.items()}
    print("%-58s %8s %8s %8s %8s" % ("hop", "count", "p50 ms", "p90 ms", "p99 ms"))
    for name, what in HOPS:
        b = now.get(name)
        if not b:
            continue
        qs = [quantile(b, q) for q in (0.5, 0.9, 0.99)]
        print("%-58s %8d %8s %8s %8s" % (what, b["+Inf"], *("%.2f" % x if x is not None else "-" for x in qs)))


if __name__ == "__main__":
    main()
