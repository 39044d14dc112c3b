"""The walkthrough cannot rot: every scene of deploy/local/demo.sh runs against a cluster
started by deploy/local/up.sh (on this run's infrastructure, with ports of its own) and its
evidence lines are checked; the cluster is as the demo found it afterwards. And
docs/WALKTHROUGH.md names only files that exist and quotes only numbers that
docs/BENCHMARKS.md or docs/RELIABILITY.md state."""
import os
import re
import signal
import subprocess
import time

import pytest

from cluster import BUILD, ROOT, free_port

DEMO = os.path.join(ROOT, "deploy", "local", "demo.sh")
SCENES = ["trace", "dedup", "kill-logic", "redis-loss", "big-group", "overload"]
DAEMONS = ["repo-1", "logic-1", "logic-2", "gw-1", "gw-2", "task-1"]   # the instances up.sh starts
WALKTHROUGH = os.path.join(ROOT, "docs", "WALKTHROUGH.md")


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def pid_of(run, name):
    try:
        with open(os.path.join(run, "pids", name + ".pid")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def stop_daemons(run):
    """Stop what up.sh started in run (by pid file, as down.sh does), not the servers."""
    pids = [p for p in (pid_of(run, n) for n in DAEMONS) if p]
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + 20
    while any(alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.2)
    for n in DAEMONS:
        p = pid_of(run, n)
        if p and alive(p):
            os.kill(p, signal.SIGKILL)
        try:
            os.remove(os.path.join(run, "pids", n + ".pid"))
        except OSError:
            pass


@pytest.fixture(scope="module")
def local(infra):
    """up.sh's cluster (1 repo, 2 logic, 2 gateways, 1 task) on this run's servers."""
    run = infra.run
    gws = [free_port(), free_port()]
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    base = 20000 + (os.getpid() % ((low - 20000 - 400) // 100)) * 100
    env = dict(os.environ, CIM_RUN=run, CIM_BUILD=BUILD, CIM_SKIP_BUILD="1", CIM_PORT_BASE=str(base),
               CIM_GATEWAY_PORTS=" ".join(map(str, gws)),
               CIM_KAFKA_JVM=os.environ.get("CIM_KAFKA_JVM", "-XX:TieredStopAtLevel=1"))
    try:
        subprocess.run([os.path.join(ROOT, "deploy", "local", "up.sh")], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=300)
        yield {"run": run, "gateways": ["http://127.0.0.1:%d" % p for p in gws], "infra": infra}
    finally:
        stop_daemons(run)


def parse(out):
    """{scene: {"evidence": {k: v}, "verdict": "PASS"|"FAIL: ..."}} from demo.sh's output."""
    scenes, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"scene (\S+): ", line)
        if m:
            cur = scenes.setdefault(m.group(1), {"evidence": {}, "verdict": None})
        elif cur is not None and line.startswith("  evidence: "):
            body = line[len("  evidence: "):].split("  # ")[0]
            cur["evidence"].update(kv.split("=", 1) for kv in body.split() if "=" in kv)
        elif cur is not None and line.startswith("  verdict: "):
            cur["verdict"] = line.split(None, 2)[2]   # "PASS (3.5 s)" or "FAIL: why"
    return scenes


def test_list_names_every_scene():
    out = subprocess.run([DEMO, "--list"], capture_output=True, text=True, check=True).stdout
    assert [line.split()[0] for line in out.splitlines()] == SCENES


def test_every_scene_proves_its_point_and_leaves_the_cluster_as_found(local):
    run, infra = local["run"], local["infra"]
    config_before = infra.etcd.prefix("/im/config/")
    logic_pids = {n: pid_of(run, n) for n in ("logic-1", "logic-2")}
    p = subprocess.run([DEMO, "--run", run, "--gateways", ",".join(local["gateways"])],
                       capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    scenes = parse(out)
    assert list(scenes) == SCENES, out[-3000:]
    for name, s in scenes.items():
        assert s["verdict"] and s["verdict"].startswith("PASS"), (name, s["verdict"], out[-4000:])
    assert p.returncode == 0, out[-3000:]

    ev = {name: s["evidence"] for name, s in scenes.items()}
    t = ev["trace"]
    assert len(t["trace"]) == 32 and t["rows"] == "1" and t["seq"] == t["bob_seq"]
    assert {"gw", "logic", "repo"} <= {d.split("-")[0] for d in t["daemons"].split(",")}

    d = ev["dedup"]
    assert (d["acks"], d["distinct_msg_id"], d["distinct_seq"], d["rows_for_cmid"]) == ("3", "1", "1", "1")
    assert d["dedup_value_seq"] == d["seq"] and d["burned"] == "0" and d["duplicate_log_lines"] == "2"
    assert int(d["conv_seq_after"]) == int(d["conv_seq_before"]) + 1 and d["bob_sync_copies"] == "1"

    k = ev["kill-logic"]
    assert k["killed"] == k["victim"] != k["survivor"] and int(k["survivor_stored"]) > 0
    assert k["sent"] == k["acked"] == k["stored"] == k["bob_synced"] == k["max_seq"]
    assert (k["lost"], k["stored_twice"], k["seqs_contiguous"]) == ("0", "0", "True")
    assert int(k["seq_after_restart"]) == int(k["max_seq"]) + 1 and k["logic_instances"] == "2"

    r = ev["redis-loss"]
    assert r["conv_seq_after_flush"] == "(nil)" and r["seeded_from"] == r["mysql_max_seq"]
    assert int(r["seq_after"]) == int(r["mysql_max_seq"]) + 1 == int(r["bob_pushed_seq"])
    assert r["seq_reused"] == "False" and r["bob_session_fields_after"] == "1"

    g = ev["big-group"]
    assert g["small_msg_frames"] == "2" and g["big_msg_frames"] == "0"
    assert int(g["members"]) <= int(g["big_notify_frames"]) <= int(g["members"]) * int(g["messages"])
    assert g["pulled"] == g["messages"] == g["stored_rows"] and g["per_member_rows"] == "0"

    o = ev["overload"]
    assert o["codes"] == "rate_limited" and int(o["refused"]) > 0 and int(o["retry_after_ms_min"]) > 0
    assert o["stored"] == o["sent"] and int(o["sent"]) < int(o["flood_sends"]) and o["resent_after_wait"] == "sent"

    # as found: the live config keys the scenes changed are back, the killed logic runs again
    assert infra.etcd.prefix("/im/config/") == config_before
    victim = k["victim"]
    assert pid_of(run, victim) == int(k["pid"]) != int(k["victim_pid"]) == logic_pids[victim]
    assert alive(pid_of(run, victim))
    assert set(infra.etcd.services("im-logic")) >= {"logic-1", "logic-2"}


# ---- docs/WALKTHROUGH.md ----

def walkthrough():
    with open(WALKTHROUGH) as f:
        return f.read()


def test_walkthrough_names_only_files_that_exist():
    text = walkthrough()
    docs = os.path.dirname(WALKTHROUGH)
    links = [h.split("#")[0] for h in re.findall(r"\]\(([^)\s]+)\)", text)
             if not re.match(r"[a-z]+://|#|mailto:", h)]
    assert links
    for h in links:
        assert os.path.exists(os.path.normpath(os.path.join(docs, h))), h
    # `path/like/this.ext` in code spans: relative to the repo root
    spans = [s for s in re.findall(r"`([^`\s]+)`", text)
             if "/" in s and re.search(r"\.(c|h|py|sh|md|sql|conf|dot|svg|png|txt|proto)$", s)
             and not s.startswith(("/", "http"))]
    assert spans
    for s in spans:
        assert os.path.exists(os.path.join(ROOT, s)), s
    for scene in re.findall(r"demo\.sh ([a-z][a-z-]+)", text):
        assert scene in SCENES, scene


def norm(s):
    return re.sub(r"\s+", " ", s.replace("**", "")).strip()


def test_walkthrough_quotes_measured_numbers_exactly():
    sources = ""
    for name in ("BENCHMARKS.md", "RELIABILITY.md"):
        with open(os.path.join(ROOT, "docs", name)) as f:
            sources += norm(f.read()) + "\n"
    quotes = []
    for line in walkthrough().splitlines():
        if line.startswith("**Measured**"):
            quotes += re.findall(r'"([^"]+)"', line)
    assert len(quotes) >= 10
    for q in quotes:
        assert re.search(r"\d", q), q
        assert norm(q) in sources, "not in docs/BENCHMARKS.md or docs/RELIABILITY.md: %r" % q
