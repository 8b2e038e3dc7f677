#!/usr/bin/env bash
# Set up everything the tests need (as root: Chromium, CJK fonts, PostgreSQL
# with PostGIS), start a throw-away local PostgreSQL, and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# The suite runs as CI runs it: fixed hypothesis examples, no test skipped for a missing tool.
export CI="${CI:-1}"
bash scripts/setup.sh --system
source scripts/postgis.sh
start_postgis
trap stop_postgis EXIT
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy
.venv/bin/python -m pytest "$@"
