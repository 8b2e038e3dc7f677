#!/usr/bin/env bash
# Set up gridplan and run the main job on the bundled default area: build the
# grids, draw districts, compute walking coverage, then serve the API and the
# web map on 127.0.0.1 and print the address.  Extra arguments go to
# `gridplan run` (for example: --port 8080, or another area folder).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/gridplan run "$@"
