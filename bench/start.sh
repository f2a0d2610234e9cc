#!/usr/bin/env bash
# How fast a start is and how much memory the server holds at rest: the time
# from exec to the first 200 from /healthz, and VmRSS after a few seconds
# idle, with the demo content (8 images). The first start on an empty data
# folder makes the images' variants and keeps them in data/media-cache/;
# every later start reads them back.
#
#   bash bench/start.sh                                  # 5 later starts
#   BASELINE_BIN=/tmp/ap-base bash bench/start.sh        # and another build, same run
#   RUNS=10 IDLE=5 bash bench/start.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
IDLE="${IDLE:-5}"
PORT="${PORT:-18490}"
BASELINE_BIN="${BASELINE_BIN:-}"

. bench/lib.sh
need_packages curl:curl
build_release --bin activepath
BIN="$CARGO_TARGET_DIR/release/activepath"

work=$(mktemp -d)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# start BIN DATA_DIR: prints "ms_to_healthz rss_kb" for one start.
start() {
  local t0 t1 rss
  t0=$(now_ms)
  RUST_LOG=warn "$1" serve --bind "127.0.0.1:$PORT" --data-dir "$2" >> "$work/log" 2>&1 &
  PID=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
    kill -0 "$PID" 2>/dev/null || { echo "the server stopped; log:" >&2; cat "$work/log" >&2; exit 1; }
    sleep 0.002
  done
  t1=$(now_ms)
  sleep "$IDLE"
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")
  kill "$PID"; wait "$PID" 2>/dev/null || true
  PID=
  echo "$((t1 - t0)) $rss"
}

# series NAME BIN: a first start on an empty data folder, then RUNS more on it.
series() {
  local name=$1 bin=$2 data="$work/data-$1" first later=() rss=() ms kb i
  read -r ms kb < <(start "$bin" "$data")
  printf '%-10s %-7s %8s ms %8s MB\n' "$name" first "$ms" "$(awk -v k="$kb" 'BEGIN {printf "%.1f", k / 1024}')"
  for i in $(seq "$RUNS"); do
    read -r ms kb < <(start "$bin" "$data")
    later+=("$ms"); rss+=("$kb")
  done
  printf '%-10s %-7s %8s ms %8s MB   (%d starts: ms %s; MB %s)\n' "$name" later \
    "$(printf '%s\n' "${later[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
    "$(printf '%s\n' "${rss[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1024}')" \
    "$RUNS" "${later[*]}" "$(printf '%s\n' "${rss[@]}" | awk '{printf "%.1f ", $1/1024}')"
}

echo "time from exec to the first 200 from /healthz; VmRSS after ${IDLE} s idle (medians of later starts)"
series current "$BIN"
[ -n "$BASELINE_BIN" ] && series baseline "$BASELINE_BIN"
exit 0
