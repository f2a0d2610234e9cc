#!/usr/bin/env bash
# Durable writes: POST /api/v1/assessments on SQLite (synchronous=FULL, group
# commit) and on PostgreSQL, same binary, same machine, same run. Prints the
# rate, p50 and p99 for each and the ratio SQLite / PostgreSQL.
#
#   bash bench/submit.sh               # 10 s per backend
#   DURATION=3s bash bench/submit.sh   # quicker, noisier
#   PG_URL=postgres://user@host/db bash bench/submit.sh
#
# Each backend starts empty. wrk shares the cores with the server and the
# database: compare the ratio within one run, not absolute figures.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18490}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"

. bench/lib.sh
need_packages wrk:wrk

build_release --bin activepath
BIN="$CARGO_TARGET_DIR/release/activepath"

work=$(mktemp -d)
db="ap_bench_$$"
cleanup() {
  [ -n "${AP_PID:-}" ] && kill "$AP_PID" 2>/dev/null || true
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts the server on a database (empty: SQLite in a fresh folder).
start() {
  [ -n "${AP_PID:-}" ] && { kill "$AP_PID"; wait "$AP_PID" 2>/dev/null || true; }
  rm -rf "$work/data"
  env ${1:+DATABASE_URL="$1"} RUST_LOG=warn ACTIVEPATH_RATE_LIMIT__ENABLED=false \
    "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$work/data" > "$work/ap.log" 2>&1 &
  AP_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.1; done
  cat "$work/ap.log"; exit 1
}

# Prints "rate p50 p99 non_2xx" for the running server.
measure() {
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s bench/submit.lua \
    "http://127.0.0.1:$PORT/api/v1/assessments" > "$work/wrk.out"
  awk '/Requests\/sec/ {r=$2} /^p50_ms/ {p50=$2} /^p99_ms/ {p99=$2} /^non_2xx/ {n=$2}
       END {print r, p50, p99, n}' "$work/wrk.out"
}

unset DATABASE_URL
start ""
read -r lite_rate lite_p50 lite_p99 lite_bad < <(measure)
stored=$(sqlite3 "$work/data/activepath.db" "SELECT COUNT(*) FROM assessment_results" 2>/dev/null || echo "?")

psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
start "${PG_URL%/*}/$db"
read -r pg_rate pg_p50 pg_p99 pg_bad < <(measure)

printf '%-12s %12s %9s %9s %9s\n' backend "results/s" "p50 ms" "p99 ms" "non-201"
printf '%-12s %12s %9s %9s %9s\n' sqlite "$lite_rate" "$lite_p50" "$lite_p99" "$lite_bad"
printf '%-12s %12s %9s %9s %9s\n' postgresql "$pg_rate" "$pg_p50" "$pg_p99" "$pg_bad"
awk -v s="$lite_rate" -v p="$pg_rate" 'BEGIN { printf "ratio sqlite/postgresql: %.2f\n", s / p }'
[ "$stored" = "?" ] || echo "sqlite rows stored: $stored"
