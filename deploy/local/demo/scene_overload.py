"""overload — one client floods `send` past its per-user token bucket (rl:send:{uid} in
Redis, shared by every gateway): the excess is refused with `error {code: rate_limited,
retry_after_ms, cmid}` and never produced, while another pair's latency stays near its
quiet baseline; after retry_after_ms the refused cmid goes through."""
import statistics
import threading
import time

from client import take_all

TITLE = "a client floods sends past its rate limit; another user's latency is unaffected"
RATE, BURST, FLOOD_S = 20, 40, 3.0


def latencies(a, b, n, tag):
    out = []
    for i in range(n):
        t0 = time.time()
        cmid = a.send(b.user_id, "%s %d" % (tag, i))
        b.expect("msg", timeout=20, where=lambda f, c=cmid: f["message"]["cmid"] == c)
        out.append((time.time() - t0) * 1000)
        a.expect("sent", timeout=20, where=lambda f, c=cmid: f["cmid"] == c)
    return out


def run(env):
    env.scene("overload", TITLE)
    a, b, _ = env.pair("carol", "dave")
    abuser, sink, _ = env.pair("flood", "sink")
    try:
        with env.live("im-gateway", "send_rate", RATE), env.live("im-gateway", "send_burst", BURST):
            env.step("send_rate=%d/s, send_burst=%d put in etcd for every gateway (the documented defaults; "
                     "restored at the end)" % (RATE, BURST))
            latencies(a, b, 3, "warm up")
            quiet = latencies(a, b, 10, "quiet")
            env.step("carol -> dave, one message at a time, quiet: send -> msg p50 %.1f ms" % statistics.median(quiet))

            cmids, stop = [], threading.Event()

            def flood():
                while not stop.is_set():
                    cmids.append(abuser.send(sink.user_id, "flood %d" % len(cmids)))
                    if len(cmids) % 10 == 0:   # ~300 a second: far past 20/s, not a socket-filler
                        time.sleep(0.03)

            t = threading.Thread(target=flood, daemon=True)
            t0 = time.time()
            t.start()
            loaded = latencies(a, b, 10, "under load")
            while time.time() - t0 < FLOOD_S:
                time.sleep(0.1)
            stop.set()
            t.join()
            took = time.time() - t0
            env.step("the flooder sent %d `send`s in %.1f s from one connection, while carol sent 10 more: "
                     "p50 %.1f ms" % (len(cmids), took, statistics.median(loaded)))
            frames = take_all(abuser, "sent", quiet=2.0) + take_all(abuser, "error", quiet=0)
            ok = [f for f in frames if f["op"] == "sent"]
            refused = [f for f in frames if f["op"] == "error"]
            codes = sorted({f["code"] for f in refused})
            retry = [f["retry_after_ms"] for f in refused if "retry_after_ms" in f]
            env.show("frame: " + str(refused[0]) if refused else "frame: (no refusal)")
            bucket = env.redis("HGETALL", "rl:send:%d" % abuser.user_id) or env.redis("GET", "rl:send:%d" % abuser.user_id)
            rows = int(env.sql("SELECT COUNT(*) FROM messages WHERE sender_id = %d" % abuser.user_id)[0][0])
            env.evidence(flood_sends=len(cmids), sent=len(ok), refused=len(refused), codes=",".join(codes),
                         retry_after_ms_min=min(retry or [0]), retry_after_ms_max=max(retry or [0]),
                         stored=rows, note="refused sends are never produced: stored == sent")
            env.evidence(bucket_key="rl:send:%d" % abuser.user_id, bucket=bucket.replace("\n", ",") or "(none)")
            env.evidence(quiet_p50_ms="%.1f" % statistics.median(quiet), flood_p50_ms="%.1f" % statistics.median(loaded),
                         quiet_max_ms="%.1f" % max(quiet), flood_max_ms="%.1f" % max(loaded))
            env.check(refused and codes == ["rate_limited"] and all(r > 0 for r in retry) and len(retry) == len(refused),
                      "refusals are rate_limited with retry_after_ms")
            env.check(len(ok) + len(refused) == len(cmids), "every send answered")
            env.check(len(ok) <= BURST + RATE * took + 5, "no more than the budget went through")
            env.check(rows == len(ok), "only accepted sends were stored")
            env.check(statistics.median(loaded) <= 10 * statistics.median(quiet) + 200,
                      "the other pair's latency stays near its baseline")

            wait = max(retry) / 1000.0
            again = refused[-1]["cmid"]
            time.sleep(wait)
            abuser.send(sink.user_id, "flood, resent", cmid=again)
            f = abuser.expect("sent", where=lambda f: f["cmid"] == again, timeout=10)
            env.step("after waiting retry_after_ms (%d ms), the flooder resends a refused cmid: `sent` seq %d"
                     % (max(retry), f["seq"]))
            env.evidence(resent_after_wait="sent", seq=f["seq"])
        env.step("send_rate and send_burst restored in etcd")
    finally:
        for c in (a, b, abuser, sink):
            c.close()
