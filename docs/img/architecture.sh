#!/usr/bin/env bash
# architecture.sh — render docs/img/architecture.dot to architecture.svg and architecture.png
# (both committed; docs/WALKTHROUGH.md shows the SVG). Needs Graphviz: apt-get install graphviz.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
dot -Tsvg architecture.dot -o architecture.svg
dot -Tpng -Gdpi=110 architecture.dot -o architecture.png
echo "architecture: wrote $(pwd)/architecture.svg and architecture.png"
