#!/usr/bin/env bash
# base-image.sh [--force] — the `debian:bookworm` (and `debian:bookworm-slim`) image that
# cim's Dockerfiles start from, built without an image registry: debootstrap a minimal
# Debian bookworm from the mirror in this machine's own apt sources, import it into the
# local Docker engine and tag it. Does nothing when `debian:bookworm` is already there
# (pulled from a registry or built before) unless --force is given.
# Needs root, debootstrap (installed if missing) and a running Docker engine ($DOCKER,
# default `docker`).
set -euo pipefail
DOCKER=${DOCKER:-docker}
TAG=debian:bookworm

if [ "${1:-}" != "--force" ] && $DOCKER image inspect "$TAG" >/dev/null 2>&1; then
  echo "base-image: $TAG already present"
  exit 0
fi

# apt_uri SUITE: the first archive URI this machine's apt uses for SUITE (deb822 or
# one-line sources), empty if none.
apt_uri() {
  local suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    # one stanza per paragraph: print its URIs when its Suites name SUITE
    awk -v s="$suite" 'BEGIN{RS=""; FS="\n"}
      { u=""; ok=0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); u = a[2] }
          if ($i ~ /^Suites:/) { n = split($i, b, /[ \t]+/); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 }
        }
        if (ok && u != "") { print u; exit } }' "$f"
  done | head -n 1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                                     if ($(i + 1) == s) { print $i; exit } }' "$f"
  done | head -n 1
}

MIRROR=$(apt_uri bookworm | head -n 1)
SECURITY=$(apt_uri bookworm-security | head -n 1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "base-image: installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

ROOTFS=$(mktemp -d /tmp/cim-rootfs-XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
t0=$SECONDS
echo "base-image: debootstrap bookworm from $MIRROR"
debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" > "$ROOTFS.log" 2>&1 || {
  echo "base-image: debootstrap failed; log tail:" >&2; tail -n 20 "$ROOTFS.log" >&2; rm -f "$ROOTFS.log"; exit 1; }
rm -f "$ROOTFS.log"

cat > "$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
EOF
# As in the public image: apt keeps no package caches in layers and fetches no translations.
echo 'Acquire::Languages "none";' > "$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
cat > "$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log

tar -C "$ROOTFS" --numeric-owner -c . | $DOCKER import --change 'CMD ["bash"]' - "$TAG" >/dev/null
$DOCKER tag "$TAG" debian:bookworm-slim
echo "base-image: $TAG and debian:bookworm-slim imported in $((SECONDS - t0)) s"
