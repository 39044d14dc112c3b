#!/usr/bin/env bash
# k8s.sh — the Kubernetes stage of tests/run.sh, offline (no cluster runs here): render
# deploy/k8s (base, and overlays/local = base + infra) with kustomize; validate every
# object with `kubernetes-validate --strict` against two Kubernetes versions; show that a
# deliberately broken manifest (k8s-broken.yaml) fails that validation; then
# check_deploy.py: every config key the daemons need is set (keys derived from
# deploy/config/*.conf), pull policy, resources, probes, PDBs and HPAs, in the rendered
# local overlay and in deploy/docker-compose.yml, and four deliberate breaks are reported.
# Tools, installed on first use and kept under ~/.cache/cim-tools (CIM_TOOLS):
# kubernetes-validate from PyPI in a venv, kustomize built from its Go module.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${CIM_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/cim-tools}
KV_VERSION=1.37.0
KUSTOMIZE_VERSION=v5.6.0
K8S_VERSIONS=(1.29.0 1.34.0)
OUT=$(mktemp -d /tmp/cim-k8s-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
say() { echo "k8s: $*"; }

# ---- tools ----
VENV=$TOOLS/venv-kubernetes-validate-$KV_VERSION
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  say "installing kubernetes-validate $KV_VERSION into $VENV"
  if ! /usr/bin/python3 -m venv "$VENV" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    /usr/bin/python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KV_VERSION"
fi
KUSTOMIZE=$TOOLS/kustomize-$KUSTOMIZE_VERSION/kustomize
if [ ! -x "$KUSTOMIZE" ]; then
  GO=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$GO" ] || { say "no Go toolchain to build kustomize with"; exit 1; }
  say "building kustomize $KUSTOMIZE_VERSION (Go module) into ${KUSTOMIZE%/*}"
  GOBIN=${KUSTOMIZE%/*} GOFLAGS=-mod=mod "$GO" install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi
PY=$VENV/bin/python   # has PyYAML (a kubernetes-validate dependency)

# ---- the alert rules: one file, copied where kustomize can read it ----
cmp -s "$ROOT/deploy/observability/alerts.yml" "$ROOT/deploy/k8s/infra/observability/alerts.yml" ||
  { say "deploy/k8s/infra/observability/alerts.yml differs from deploy/observability/alerts.yml"; exit 1; }

# ---- render ----
"$KUSTOMIZE" build "$ROOT/deploy/k8s/base" > "$OUT/base.yaml"
# the overlay's secrets.env, as a user makes it once (docs/DEPLOY.md); never committed
SECRETS=$ROOT/deploy/k8s/overlays/local/secrets.env
[ -f "$SECRETS" ] || echo "CIM_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$SECRETS"
"$KUSTOMIZE" build "$ROOT/deploy/k8s/overlays/local" > "$OUT/local.yaml"
for f in base local; do
  say "rendered $f: $("$PY" -c 'import sys, yaml; d=[x for x in yaml.safe_load_all(open(sys.argv[1])) if x]
from collections import Counter; c=Counter(x["kind"] for x in d); print(len(d), "objects:", ", ".join("%d %s" % (n, k) for k, n in sorted(c.items())))' "$OUT/$f.yaml")"
done

# ---- schema validation, strict, two versions ----
for v in "${K8S_VERSIONS[@]}"; do
  if ! "$VENV/bin/kubernetes-validate" --strict --quiet -k "$v" "$OUT/base.yaml" "$OUT/local.yaml" > "$OUT/kv.log" 2>&1; then
    cat "$OUT/kv.log"; say "kubernetes-validate --strict -k $v: FAILED"; exit 1
  fi
  n=$("$VENV/bin/kubernetes-validate" --strict -k "$v" "$OUT/base.yaml" "$OUT/local.yaml" 2>&1 | grep -c ' passed for resource ')
  say "kubernetes-validate --strict -k $v: $n objects passed (base + overlays/local)"
done

# ---- the validation can fail ----
if "$VENV/bin/kubernetes-validate" --strict -k "${K8S_VERSIONS[0]}" "$ROOT/tests/deploy/k8s-broken.yaml" > "$OUT/broken.log" 2>&1; then
  cat "$OUT/broken.log"; say "the broken manifest PASSED validation"; exit 1
fi
if ! grep -q "imagePullPolcy" "$OUT/broken.log" || ! grep -q "'two' is not of type 'integer'" "$OUT/broken.log"; then
  cat "$OUT/broken.log"; say "the broken manifest failed, but not for its two errors"; exit 1
fi
say "k8s-broken.yaml fails as it must:"
sed -n 's/^ERROR .* for resource \([^ ]*\) against version [0-9.]*: /  \1: /p' "$OUT/broken.log" | cut -c1-200

# ---- config keys and policies ----
cd "$ROOT"
"$PY" tests/deploy/check_deploy.py --k8s "overlays/local=$OUT/local.yaml" --compose deploy/docker-compose.yml
"$PY" tests/deploy/check_deploy.py --k8s "overlays/local=$OUT/local.yaml" --self-test
say "PASS"
