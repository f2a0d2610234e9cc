#!/usr/bin/env bash
# Memory under a storm of sign-ins: 100 staff sign-in POSTs at once (each to
# its own address, so only the password check decides the cost), three
# rounds, against a release binary. Prints the status codes of each round,
# the resident memory at idle, its peak (VmHWM) and after.
#
#   bash bench/sign_in.sh                      # builds this tree's release binary
#   bash bench/sign_in.sh OLD_BINARY NEW_BINARY  # compares binaries you built
#
# Per-client rate limits are off (as for an attacker with many addresses).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-18495}"
N="${N:-100}"
ROUNDS="${ROUNDS:-3}"

. bench/lib.sh
need_packages python3:python3 curl:curl
if [ $# -eq 0 ]; then
  build_release --bin activepath
  set -- "$CARGO_TARGET_DIR/release/activepath"
fi

work=$(mktemp -d)
cleanup() {
  [ -n "${AP_PID:-}" ] && kill "$AP_PID" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/storm.py" <<'PY'
import collections, sys, threading, urllib.error, urllib.request
base, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
counts, lock, go = collections.Counter(), threading.Lock(), threading.Barrier(n)
def one(i):
    body = f"email=guest{tag}{i}%40riverbend.example&password=not-the-password-{i}".encode()
    req = urllib.request.Request(base + "/staff/login", data=body,
        headers={"content-type": "application/x-www-form-urlencoded"})
    go.wait()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    with lock:
        counts[status] += 1
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print(" ".join(f"{k}x{v}" for k, v in sorted(counts.items())))
PY

kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$AP_PID/status"; }

for bin in "$@"; do
  rm -rf "$work/data"
  RUST_LOG=warn ACTIVEPATH_RATE_LIMIT__ENABLED=false \
    "$bin" serve --bind "127.0.0.1:$PORT" --data-dir "$work/data" > "$work/ap.log" 2>&1 &
  AP_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
  echo "== $bin"
  idle=$(kb VmRSS)
  for round in $(seq "$ROUNDS"); do
    echo "  round $round: $(python3 "$work/storm.py" "http://127.0.0.1:$PORT" "$N" "r$round")"
  done
  echo "  resident memory: idle $((idle / 1024)) MiB, peak $(( $(kb VmHWM) / 1024 )) MiB, after $(( $(kb VmRSS) / 1024 )) MiB"
  kill "$AP_PID"; wait "$AP_PID" 2>/dev/null || true; AP_PID=
done
