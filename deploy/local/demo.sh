#!/usr/bin/env bash
# demo.sh [SCENE ...] [--list] [--run RUN_DIR] [--gateways URL,URL] — the interview
# walkthrough on a running local cim, one scene per design decision (docs/WALKTHROUGH.md):
# trace, dedup, kill-logic, redis-loss, big-group, overload; no scene: all of them.
# Start the system first: deploy/local/up.sh (the run folder: --run, else CIM_RUN, else ./run).
set -euo pipefail
exec /usr/bin/python3 -u "$(dirname "${BASH_SOURCE[0]}")/demo.py" "$@"
