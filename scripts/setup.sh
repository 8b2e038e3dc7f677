#!/usr/bin/env bash
# Set up gridplan on this machine: a Python virtual environment in .venv with
# the package and its test tools, and the web map's assets from the npm
# registry (served locally, never from a CDN).
#
#   bash scripts/setup.sh            Python + npm only (enough to run gridplan)
#   bash scripts/setup.sh --system   also, as root, Debian's Chromium, CJK fonts,
#                                    PostgreSQL with PostGIS and GDAL for the tests,
#                                    and osmium-tool (the C++ split of a city build)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--system" ]]; then
  need=()
  command -v chromium >/dev/null || need+=(chromium)
  dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
  command -v pg_ctlcluster >/dev/null || need+=(postgresql)
  ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgresql-postgis)
  command -v ogrinfo >/dev/null || need+=(gdal-bin)  # GDAL's OAPIF client for the OGC tests
  command -v osmium >/dev/null || need+=(osmium-tool)  # splits a city's extract (gis/split.py)
  if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "setup: need root to apt-get install ${need[*]}" >&2; exit 1
    fi
    echo "setup: apt-get install ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"

if [[ -f maps/package.json ]]; then
  (cd maps && npm ci --no-audit --no-fund --loglevel=error)
  .venv/bin/python -m maps.vendor
fi
# numba compiles the districting's exact search once per machine (cached on
# disk); doing it here keeps the first `gridplan run` to seconds
echo "setup: compiling the districting search (once per machine)" >&2
.venv/bin/python -c "from gis.exact import warm_up; warm_up()"
echo "setup: ready (.venv)" >&2
