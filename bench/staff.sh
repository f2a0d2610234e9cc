#!/usr/bin/env bash
# The staff portal at clinic-network scale: seeds each database with
# RESULTS self-assessment results, CASES triage cases (OPEN of them still
# open) and PATIENTS patient records through the application's own code
# (examples/seed.rs: encrypted, indexed, audited), and COURSES TMS courses
# (each on the queue's list of courses that need attention), then loads the
# queue, a random case, a random patient record and the course list with
# wrk, signed in as a clinician. Prints the rate, p50 and p99 of each page on SQLite and on
# PostgreSQL. Every page view is also written to the audit trail.
#
#   bash bench/staff.sh                                  # 1,000,000 / 100,000
#   RESULTS=100000 CASES=10000 PATIENTS=1000 bash bench/staff.sh   # quicker
#   BACKENDS=postgresql bash bench/staff.sh              # one database only
#   BASELINE_BIN=/tmp/activepath-before bash bench/staff.sh   # a build to compare with
set -euo pipefail
cd "$(dirname "$0")/.."
RESULTS="${RESULTS:-1000000}"
CASES="${CASES:-100000}"
OPEN="${OPEN:-500}"
PATIENTS="${PATIENTS:-10000}"
COURSES="${COURSES:-200}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
PORT="${PORT:-18491}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"

. bench/lib.sh
need_packages wrk:wrk

build_release --bin activepath --example seed
BIN="$CARGO_TARGET_DIR/release/activepath"
# BASELINE_BIN=path: another build (say, the commit before a change) is
# measured too, on the same seeded data, just before this one.
BASELINE_BIN="${BASELINE_BIN:-}"
SEED="$CARGO_TARGET_DIR/release/examples/seed"

work=$(mktemp -d)
db="ap_bench_staff_$$"
cleanup() {
  [ -n "${AP_PID:-}" ] && { kill "$AP_PID" 2>/dev/null; wait "$AP_PID" 2>/dev/null; } || true
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
printf 'bench-password-quietly-long\n' > "$work/pw"

# bench BACKEND [DATABASE_URL]
bench() {
  local name=$1 url=${2:-}
  [ -n "${AP_PID:-}" ] && { kill "$AP_PID"; wait "$AP_PID" 2>/dev/null || true; AP_PID=; }
  rm -rf "$work/data"
  echo "== $name: seeding $RESULTS results, $CASES cases ($OPEN open), $PATIENTS patients, $COURSES courses" >&2
  env ${url:+DATABASE_URL="$url"} RUST_LOG=warn "$SEED" --data-dir "$work/data" \
    --results "$RESULTS" --cases "$CASES" --open "$OPEN" --patients "$PATIENTS" \
    --courses "$COURSES" >&2
  # What autovacuum does soon after a bulk load (a running clinic's
  # database has long been vacuumed), then the plans the pages' queries get
  # on this data, full scans of large tables marked.
  [ -n "$url" ] && psql "$url" -qc "VACUUM ANALYZE"
  echo "== $name: query plans" >&2
  env ${url:+DATABASE_URL="$url"} RUST_LOG=warn "$SEED" --data-dir "$work/data" --plans > "$work/plans"
  cat "$work/plans" >&2
  scans+=" $name:$(sed -n 's/^full scans of large tables: //p' "$work/plans")"
  env ${url:+DATABASE_URL="$url"} RUST_LOG=error "$BIN" user add --email bench@bench.example \
    --role clinician --password-file "$work/pw" --data-dir "$work/data" >/dev/null
  [ -n "$BASELINE_BIN" ] && measure "$name" "$url" "$BASELINE_BIN" baseline
  measure "$name" "$url" "$BIN" ""
}

# measure BACKEND DATABASE_URL BINARY LABEL: serves the seeded data with
# BINARY and loads each page.
measure() {
  local name=$1 url=$2 bin=$3 label=${4:+ ($4)}
  [ -n "${AP_PID:-}" ] && { kill "$AP_PID"; wait "$AP_PID" 2>/dev/null || true; AP_PID=; }
  env ${url:+DATABASE_URL="$url"} RUST_LOG=warn ACTIVEPATH_RATE_LIMIT__ENABLED=false \
    ACTIVEPATH_STAFF__REQUIRE_SECOND_FACTOR=false \
    "$bin" serve --bind "127.0.0.1:$PORT" --data-dir "$work/data" > "$work/ap.log" 2>&1 &
  AP_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  local cookie
  cookie=$(curl -s -o /dev/null -D - "http://127.0.0.1:$PORT/staff/login" \
    --data-urlencode email=bench@bench.example --data-urlencode "password=$(cat "$work/pw")" |
    tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(activepath_staff=[^;]*\).*/\1/p')
  [ -n "$cookie" ] || { echo "sign-in failed" >&2; cat "$work/ap.log" >&2; exit 1; }
  for page in ${PAGES:-queue case patient courses}; do
    case $page in
      queue) path=/staff; count=0 ;;
      courses) path=/staff/courses; count=0 ;;
      case) path=/staff/cases/; count=$CASES ;;
      patient) path=/staff/patients/; count=$PATIENTS ;;
    esac
    # A short warm-up first, not counted: caches filled, connections open.
    for d in 2s "$DURATION"; do
      COOKIE="$cookie" PAGE="$path" COUNT="$count" wrk -t2 -c"$CONNECTIONS" -d"$d" \
        -s bench/staff_page.lua "http://127.0.0.1:$PORT" > "$work/wrk.out"
    done
    awk -v b="$name" -v p="$page$label" '/Requests\/sec/ {r=$2} /^p50_ms/ {p50=$2} /^p99_ms/ {p99=$2} /^non_2xx/ {n=$2}
         END {printf "%-11s %-19s %10s %9s %9s %8s\n", b, p, r, p50, p99, n}' "$work/wrk.out"
  done
}

scans=
printf '%-11s %-19s %10s %9s %9s %8s\n' backend page "req/s" "p50 ms" "p99 ms" "non-2xx"
for backend in ${BACKENDS:-sqlite postgresql}; do
  case $backend in
    sqlite) bench sqlite ;;
    postgresql)
      psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
      bench postgresql "${PG_URL%/*}/$db"
      ;;
  esac
done
echo "full scans of large tables in the pages' query plans:$scans"
