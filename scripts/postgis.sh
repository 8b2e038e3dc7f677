#!/usr/bin/env bash
# Start and stop a throw-away PostgreSQL with PostGIS on 127.0.0.1 for the
# tests.  Sourced by scripts/test.sh; exports GRIDPLAN_TEST_DATABASE_URL.
start_postgis() {
  local bin port=${GRIDPLAN_PG_PORT:-55432}
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [[ -z "$bin" ]]; then
    echo "postgis: PostgreSQL is not installed (run scripts/setup.sh --system as root)" >&2
    return 1
  fi
  GRIDPLAN_PG_DIR=$(mktemp -d /tmp/gridplan-pg.XXXXXX)
  export GRIDPLAN_PG_DIR
  local as=()
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$GRIDPLAN_PG_DIR"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$GRIDPLAN_PG_DIR/data" -A trust -U postgres >/dev/null
  "${as[@]}" "$bin/pg_ctl" -D "$GRIDPLAN_PG_DIR/data" -l "$GRIDPLAN_PG_DIR/log" -w \
    -o "-k $GRIDPLAN_PG_DIR -p $port -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres gridplan_test
  "${as[@]}" "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d gridplan_test \
    -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
  export GRIDPLAN_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$port/gridplan_test"
  echo "postgis: running on 127.0.0.1:$port" >&2
}

stop_postgis() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "${GRIDPLAN_PG_DIR:-}" && -d "$GRIDPLAN_PG_DIR/data" ]] || return 0
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$GRIDPLAN_PG_DIR/data" -m fast -w stop >/dev/null || true
  else
    "$bin/pg_ctl" -D "$GRIDPLAN_PG_DIR/data" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$GRIDPLAN_PG_DIR"
}
