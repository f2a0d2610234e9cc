#!/usr/bin/env bash
# Runs schemathesis (PyPI) against the API's own OpenAPI document, on a
# fresh demo clinic, with a clinician's API token so that the staff routes
# are reached too: no 5xx, no response that breaks its documented schema,
# no status code the document does not list. Once on SQLite and once on
# PostgreSQL ($1, a server URL whose user may create databases).
#
#   bash .ci/schemathesis.sh BIN [POSTGRES_URL]
#
# The seed is fixed so that a run is repeatable; `ST_SEED=` (empty) lets
# schemathesis choose, to look further.
set -euo pipefail

bin="$1"
pg_url="${2:-}"
venv="${ST_VENV:-$HOME/.cache/activepath/schemathesis-venv}"
version=4.32.5

if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$version"; then
  echo "== installing schemathesis $version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

run_against() {
  local name="$1" database_url="$2"
  local dir port token pid
  dir="$(mktemp -d)"
  port=$((20000 + RANDOM % 20000))
  echo "lilac-otter-harbour-quietly" >"$dir/password"
  local env=(ACTIVEPATH_RATE_LIMIT__ENABLED=false NO_COLOR=1 RUST_LOG=warn)
  if [ -n "$database_url" ]; then env+=("DATABASE_URL=$database_url"); fi
  env -u DATABASE_URL "${env[@]}" "$bin" user add --email st@clinic.example --role clinician \
    --password-file "$dir/password" --data-dir "$dir/data" >/dev/null
  token="$(env -u DATABASE_URL "${env[@]}" "$bin" user token --email st@clinic.example \
    --name schemathesis --data-dir "$dir/data" 2>/dev/null)"
  env -u DATABASE_URL "${env[@]}" "$bin" serve --bind "127.0.0.1:$port" --data-dir "$dir/data" \
    >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.5
  done
  echo "== schemathesis on $name"
  local seed=()
  if [ -n "${ST_SEED-1}" ]; then seed=(--seed "${ST_SEED-1}"); fi
  local status=0
  "$venv/bin/st" run "http://127.0.0.1:$port/api/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance \
    --max-examples "${ST_MAX_EXAMPLES:-30}" "${seed[@]}" --no-color || status=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$status" != 0 ]; then
    echo "schemathesis found problems on $name; the server's log:"
    tail -n 50 "$dir/server.log"
    exit "$status"
  fi
  rm -rf "$dir"
}

run_against SQLite ""
if [ -n "$pg_url" ]; then
  db="ap_st_$(date +%s)_$RANDOM"
  psql "$pg_url" -qc "CREATE DATABASE $db"
  run_against PostgreSQL "${pg_url%/*}/$db"
  psql "$pg_url" -qc "DROP DATABASE IF EXISTS $db" || true
fi
