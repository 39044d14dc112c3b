#!/usr/bin/env bash
# e2e-deps.sh — what the browser test needs: Debian's chromium and playwright-core from
# the npm registry (no browser download: it drives /usr/bin/chromium).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s fonts-noto-color-emoji >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
fi
if [ ! -d "$ROOT/tests/e2e/node_modules/playwright-core" ]; then
  (cd "$ROOT/tests/e2e" && npm install --no-audit --no-fund --silent)
fi
echo "e2e-deps: ok"
