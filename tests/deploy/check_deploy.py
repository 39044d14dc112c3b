"""check_deploy.py — what kubernetes-validate cannot see in cim's deployment files.

For every container (Kubernetes) or service (compose) that runs a cim daemon, its
effective environment (the cim image's ENV, then envFrom, then env) must set:
  - every key the daemon's config file marks "required, no default" (jwt_secret);
  - every key whose default names this host (127.0.0.1, localhost): in a cluster the
    default is wrong (etcd_endpoints, kafka_brokers, redis_host, mysql_host, the bind
    and advertise addresses), and it must not be set to such a value either;
  - every *_dir / *_root key whose default is a relative path (web_root).
Every *_dir key must lie on a mounted volume (the root file system is read-only in
Kubernetes, and files_dir is shared by the gateways). Named ports `admin`, `client` and
`grpc` must be the daemon's admin_port, port and grpc_port (the probes use them). Every
CIM_* variable must be a key of some daemon (a typo sets nothing). The keys come from
deploy/config/<daemon>.conf, which documents each daemon's config table.
In Kubernetes, also: every container has imagePullPolicy IfNotPresent (a local cluster uses
images built here) and resource requests and limits; every cim container has readiness and
liveness probes on its admin port; the gateways are a StatefulSet; every cim workload has a
PodDisruptionBudget and logic, repo and task a HorizontalPodAutoscaler.
Also: every -dev package of deploy/local/deps.sh is installed in the cim image's build stage.

usage: check_deploy.py [--k8s NAME=RENDERED.yaml]... [--compose FILE]... [--self-test]
Prints one line per daemon checked and exits 1 on any problem. --self-test breaks a copy
of the first --k8s input four ways and exits 0 only if each break is reported."""
import argparse
import copy
import glob
import os
import re
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DAEMONS = ("im-gateway", "im-logic", "im-repo", "im-task")
LOOPBACK = re.compile(r"(^|[/@:,\s])(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)([:/,\s]|$)")
PORT_KEYS = {"admin": "admin_port", "client": "port", "grpc": "grpc_port"}


def read_conf(daemon):
    """{key: (default or None, required)} from deploy/config/<daemon>.conf."""
    keys, required = {}, False
    with open(os.path.join(ROOT, "deploy", "config", daemon + ".conf")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("# required, no default"):
                required = True
                continue
            m = re.match(r"^#\s*([a-z_][a-z0-9_]*)\s*=\s*$", line) if required else None
            if m:
                keys[m.group(1)] = (None, True)
                required = False
                continue
            m = re.match(r"^([a-z_][a-z0-9_]*)\s*=\s*(.*)$", line)
            if m:
                keys[m.group(1)] = (m.group(2).strip(), False)
                required = False
    return keys


def needed(conf):
    """The keys a cluster must set, each with why."""
    out = {}
    for key, (default, required) in conf.items():
        if required:
            out[key] = "required, no default"
        elif default and LOOPBACK.search(default):
            out[key] = "the default %s is this host" % default
        elif re.search(r"_(dir|root)$", key) and default and not default.startswith("/"):
            out[key] = "the default %s is relative" % default
    return out


def image_env():
    """ENV of the cim image's last stage (deploy/docker/Dockerfile), plus the CIM_*
    variables its entrypoint exports when they are unset (value None: known at run time)."""
    text = open(os.path.join(ROOT, "deploy", "docker", "Dockerfile")).read().replace("\\\n", " ")
    stage = re.split(r"^FROM\s", text, flags=re.M)[-1]
    env = {}
    for line in stage.splitlines():
        if line.startswith("ENV "):
            for k, v in re.findall(r"(\w+)=(\S+)", line[4:]):
                env[k] = v
    entry = open(os.path.join(ROOT, "deploy", "docker", "entrypoint.sh")).read()
    for k in re.findall(r"^\s*export\s+(CIM_\w+)", entry, flags=re.M):
        env.setdefault(k, None)
    return env


def build_deps_problems():
    """-dev packages of deploy/local/deps.sh missing from the Dockerfile's build stage."""
    deps = open(os.path.join(ROOT, "deploy", "local", "deps.sh")).read()
    pkgs = re.search(r"^PKGS=\((.*?)^\)", deps, flags=re.S | re.M)
    dev = set(re.findall(r"[\w.+-]+-dev\b", pkgs.group(1) if pkgs else ""))
    text = open(os.path.join(ROOT, "deploy", "docker", "Dockerfile")).read()
    build = re.split(r"^FROM\s", text, flags=re.M)[1]
    have = set(re.findall(r"[\w.+-]+-dev\b", build))
    if not dev:
        return ["deploy/local/deps.sh: no PKGS list with -dev packages found"]
    return ["deploy/docker/Dockerfile: build stage lacks %s (deploy/local/deps.sh has it)" % p
            for p in sorted(dev - have)]


def check_daemon(where, daemon, env, mounts, ports, confs, all_keys):
    """Problems of one daemon's container: env {NAME: value or None (set from elsewhere)}."""
    conf = confs[daemon]
    problems = []
    for key, why in sorted(needed(conf).items()):
        var = "CIM_" + key.upper()
        if var not in env:
            problems.append("%s: %s: %s is not set (%s)" % (where, daemon, var, why))
        elif env[var] is not None and LOOPBACK.search(str(env[var])):
            problems.append("%s: %s: %s=%s names the container itself" % (where, daemon, var, env[var]))
    for var in sorted(env):
        if var.startswith("CIM_") and var[4:].lower() not in all_keys:
            problems.append("%s: %s: %s is no key of any daemon" % (where, daemon, var))
    for key in conf:
        if key.endswith("_dir"):
            path = env.get("CIM_" + key.upper()) or conf[key][0]
            if path and not any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts):
                problems.append("%s: %s: %s (%s) is on no mounted volume" % (where, daemon, key, path))
    for name, port in ports.items():
        key = PORT_KEYS.get(name)
        if key in conf:
            want = env.get("CIM_" + key.upper()) or conf[key][0]
            if str(port) != str(want):
                problems.append("%s: %s: port %s is %s, the daemon's %s is %s" % (where, daemon, name, port, key, want))
    return problems


def k8s_containers(docs):
    """(where, daemon, env, mounts, ports) of each cim container in rendered manifests."""
    maps = {}
    for d in docs:
        if d.get("kind") in ("ConfigMap", "Secret"):
            keys = list((d.get("data") or {}).keys()) + list((d.get("stringData") or {}).keys())
            vals = d.get("data") or {} if d["kind"] == "ConfigMap" else {}
            maps[(d["kind"], d["metadata"]["name"])] = {k: vals.get(k) for k in keys}
    for d in docs:
        spec = (d.get("spec") or {}).get("template", {}).get("spec")
        if not spec:
            continue
        for c in spec.get("containers", []):
            daemon = (c.get("args") or c.get("command") or [""])[0]
            if daemon not in DAEMONS:
                continue
            where = "%s/%s" % (d["kind"], d["metadata"]["name"])
            env, missing = dict(image_env()), []
            for ref in c.get("envFrom", []):
                kind, r = ("ConfigMap", ref["configMapRef"]) if "configMapRef" in ref else ("Secret", ref["secretRef"])
                if (kind, r["name"]) in maps:
                    env.update(maps[(kind, r["name"])])
                elif not r.get("optional"):
                    missing.append("%s: %s: envFrom names %s %s, which these manifests do not create"
                                   % (where, daemon, kind, r["name"]))
            for e in c.get("env", []):
                env[e["name"]] = e.get("value")
            mounts = [m["mountPath"] for m in c.get("volumeMounts", [])]
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
            yield where, daemon, env, mounts, ports, missing


def k8s_policy(name, docs):
    """Problems with pull policy, resources, probes, PDBs and HPAs (see the module doc)."""
    problems = []
    workloads = {}
    for d in docs:
        spec = (d.get("spec") or {}).get("template", {}).get("spec")
        if not spec:
            continue
        where = "%s/%s" % (d["kind"], d["metadata"]["name"])
        labels = d["spec"]["template"]["metadata"].get("labels", {})
        for c in spec.get("containers", []):
            if c.get("imagePullPolicy") != "IfNotPresent":
                problems.append("%s: %s: imagePullPolicy is not IfNotPresent" % (where, c["name"]))
            res = c.get("resources") or {}
            if not res.get("requests") or not res.get("limits"):
                problems.append("%s: %s: no resource requests and limits" % (where, c["name"]))
            daemon = (c.get("args") or c.get("command") or [""])[0]
            if daemon in DAEMONS:
                workloads[daemon] = (d["kind"], d["metadata"]["name"], labels)
                for probe in ("readinessProbe", "livenessProbe"):
                    port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                    if port != "admin":
                        problems.append("%s: %s: no %s on the admin port" % (where, daemon, probe))
    pdbs = [d["spec"]["selector"]["matchLabels"] for d in docs if d.get("kind") == "PodDisruptionBudget"]
    hpas = [d["spec"]["scaleTargetRef"] for d in docs if d.get("kind") == "HorizontalPodAutoscaler"]
    for daemon, (kind, wname, labels) in sorted(workloads.items()):
        if not any(all(labels.get(k) == v for k, v in sel.items()) for sel in pdbs):
            problems.append("%s/%s: no PodDisruptionBudget selects it" % (kind, wname))
        if daemon == "im-gateway" and kind != "StatefulSet":
            problems.append("%s/%s: the gateways are no StatefulSet (their ids would change)" % (kind, wname))
        if daemon != "im-gateway" and not any(h["kind"] == kind and h["name"] == wname for h in hpas):
            problems.append("%s/%s: no HorizontalPodAutoscaler" % (kind, wname))
    return ["%s: %s" % (name, p) for p in problems]


def compose_services(path):
    doc = yaml.safe_load(open(path))
    for name, svc in (doc.get("services") or {}).items():
        cmd = svc.get("command") or []
        daemon = cmd[0] if isinstance(cmd, list) and cmd else str(cmd).split(" ")[0]
        if daemon not in DAEMONS:
            continue
        env = dict(image_env())
        raw = svc.get("environment") or {}
        if isinstance(raw, list):
            raw = dict(x.split("=", 1) if "=" in x else (x, None) for x in raw)
        for k, v in raw.items():   # ${VAR:-default} -> default
            env[k] = None if v is None else re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", str(v))
        mounts = [v.split(":")[1] for v in svc.get("volumes") or [] if isinstance(v, str) and ":" in v]
        yield "compose %s" % name, daemon, env, mounts, {}, []


def run(k8s, compose, out=print):
    confs = {d: read_conf(d) for d in DAEMONS}
    all_keys = set().union(*confs.values())
    problems = build_deps_problems()
    for name, docs in k8s:
        problems += k8s_policy(name, docs)
    checked = 0
    sources = [(n, list(k8s_containers(docs))) for n, docs in k8s] + [(p, list(compose_services(p))) for p in compose]
    for name, items in sources:
        seen = set()
        for where, daemon, env, mounts, ports, missing in items:
            p = missing + check_daemon(where, daemon, env, mounts, ports, confs, all_keys)
            problems += ["%s: %s" % (name, x) for x in p]
            seen.add(daemon)
            checked += 1
            out("  %s: %s %s: %d keys needed, %s" % (name, where, daemon, len(needed(confs[daemon])),
                                                    "ok" if not p else "%d problems" % len(p)))
        for d in DAEMONS:
            if d not in seen:
                problems.append("%s: no container runs %s" % (name, d))
    return checked, problems


def load(spec):
    name, _, path = spec.partition("=")
    return name, [d for d in yaml.safe_load_all(open(path)) if d]


def self_test(k8s):
    """Break a copy four ways; each must be reported."""
    name, docs = k8s[0]
    cases = []
    d1 = copy.deepcopy(docs)   # the secret loses the JWT secret
    for d in d1:
        if d.get("kind") == "Secret":
            for part in ("data", "stringData"):
                (d.get(part) or {}).pop("CIM_JWT_SECRET", None)
    cases.append(("no CIM_JWT_SECRET", d1, "CIM_JWT_SECRET is not set"))
    d2 = copy.deepcopy(docs)   # Redis left at the default host, under a misspelt name
    for d in d2:
        if d.get("kind") == "ConfigMap" and "CIM_REDIS_HOST" in (d.get("data") or {}):
            d["data"]["CIM_REDIS_HOTS"] = d["data"].pop("CIM_REDIS_HOST")
    cases.append(("CIM_REDIS_HOST misspelt", d2, "CIM_REDIS_HOTS is no key"))
    d3 = copy.deepcopy(docs)   # the gateways lose their files volume
    for d in d3:
        for c in ((d.get("spec") or {}).get("template", {}).get("spec") or {}).get("containers", []):
            c["volumeMounts"] = [m for m in c.get("volumeMounts", []) if m["mountPath"] != "/var/lib/cim/files"]
    cases.append(("files volume removed", d3, "is on no mounted volume"))
    d4 = [d for d in copy.deepcopy(docs) if d.get("kind") != "PodDisruptionBudget"]
    cases.append(("PodDisruptionBudgets removed", d4, "no PodDisruptionBudget selects it"))
    ok = True
    for what, broken, expect in cases:
        _, problems = run([(name + " (" + what + ")", broken)], [], out=lambda *_: None)
        hit = [p for p in problems if expect in p]
        print("  self-test: %s -> %s" % (what, ("reported: " + hit[0]) if hit else "NOT reported"))
        ok = ok and bool(hit)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k8s", action="append", default=[], help="NAME=rendered manifests")
    ap.add_argument("--compose", action="append", default=[])
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    k8s = [load(s) for s in a.k8s]
    if a.self_test:
        sys.exit(0 if self_test(k8s) else 1)
    checked, problems = run(k8s, a.compose)
    for p in problems:
        print("  PROBLEM " + p)
    print("check_deploy: %d daemon containers checked, %d problems" % (checked, len(problems)))
    sys.exit(1 if problems or not checked else 0)


if __name__ == "__main__":
    main()
