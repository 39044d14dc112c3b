#!/usr/bin/env bash
# demo.sh [GATEWAY_URL_1 GATEWAY_URL_2] — one message through a running local cim, hop by
# hop, with its trace id. Start the system first: deploy/local/up.sh.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/demo.py" "$@"
