#!/usr/bin/env bash
# Compares activepath serving its pages from memory with nginx serving the
# same bytes as static files, on the same machine, in the same run.
# Prints requests/s and p99 latency for each, and the ratio activepath/nginx.
#
#   bash bench/run.sh              # 10 s per measurement
#   DURATION=3s bash bench/run.sh  # quicker, noisier
#   BASELINE_BIN=/tmp/ap-base bash bench/run.sh   # and another build, same run
#
# wrk shares the cores with the server: compare ratios within one run, never
# absolute figures across runs or machines.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
AP_PORT="${AP_PORT:-18480}"
NGINX_PORT="${NGINX_PORT:-18481}"
NGINX_TUNED_PORT="${NGINX_TUNED_PORT:-18482}"
BASE_PORT="${BASE_PORT:-18483}"
# BASELINE_BIN=path: another build (say, the commit before a change) is
# measured beside this one, on the same pages.
BASELINE_BIN="${BASELINE_BIN:-}"
POST="/blog/understanding-your-phq-9-score"

. bench/lib.sh
need_packages wrk:wrk nginx:nginx
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

build_release --bin activepath
BIN="$CARGO_TARGET_DIR/release/activepath"

work=$(mktemp -d)
# nginx's workers run as an unprivileged user when started as root: they
# must be able to read the pages (mktemp makes the folder private).
chmod 755 "$work"
cleanup() {
  [ -n "${AP_PID:-}" ] && kill "$AP_PID" 2>/dev/null || true
  [ -n "${BASE_PID:-}" ] && kill "$BASE_PID" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for URL: until it answers (a start that makes the images' variants
# takes seconds on a busy machine), at most a minute.
wait_for() {
  for _ in $(seq 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done
  echo "$1 did not answer within a minute" >&2
  exit 1
}

RUST_LOG=warn "$BIN" serve --bind "127.0.0.1:$AP_PORT" --data-dir "$work/data" > "$work/ap.log" 2>&1 &
AP_PID=$!
wait_for "http://127.0.0.1:$AP_PORT/healthz"
if [ -n "$BASELINE_BIN" ]; then
  RUST_LOG=warn "$BASELINE_BIN" serve --bind "127.0.0.1:$BASE_PORT" --data-dir "$work/data-base" > "$work/base.log" 2>&1 &
  BASE_PID=$!
  wait_for "http://127.0.0.1:$BASE_PORT/healthz"
fi

mkdir -p "$work/www"
curl -sf "http://127.0.0.1:$AP_PORT/" -o "$work/www/index.html"
curl -sf "http://127.0.0.1:$AP_PORT$POST" -o "$work/www/post.html"

cat > "$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  # Debian's defaults (access log on, sendfile, tcp_nopush, gzip for clients
  # that ask; wrk does not).
  sendfile on;
  tcp_nopush on;
  gzip on;
  types { text/html html; }
  client_body_temp_path $work/tmp;
  proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp;
  scgi_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $work/www;
    access_log $work/nginx-access.log;
  }
  # Tuned for a benchmark: no access log, unlimited keep-alive requests.
  server {
    listen 127.0.0.1:$NGINX_TUNED_PORT;
    root $work/www;
    access_log off;
    keepalive_requests 1000000;
  }
}
CONF
mkdir -p "$work/tmp"
"$NGINX" -c "$work/nginx.conf"
wait_for "http://127.0.0.1:$NGINX_PORT/index.html"
# The same bytes, or the comparison means nothing.
cmp -s "$work/www/index.html" <(curl -sf "http://127.0.0.1:$NGINX_PORT/index.html") \
  && cmp -s "$work/www/post.html" <(curl -sf "http://127.0.0.1:$NGINX_TUNED_PORT/post.html") \
  || { echo "nginx does not serve the bytes activepath served" >&2; exit 1; }

# Prints "requests_per_second p99_ms" for a URL.
measure() {
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$1" > "$work/wrk.out"
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$work/wrk.out")
  echo "$rps $p99"
}

printf '%-6s %-14s %12s %10s\n' page server "req/s" "p99 ms"
for page in home post; do
  if [ $page = home ]; then ap_path=/; ng_path=/index.html; else ap_path=$POST; ng_path=/post.html; fi
  read -r ap_rps ap_p99 < <(measure "http://127.0.0.1:$AP_PORT$ap_path")
  read -r ng_rps ng_p99 < <(measure "http://127.0.0.1:$NGINX_PORT$ng_path")
  read -r nt_rps nt_p99 < <(measure "http://127.0.0.1:$NGINX_TUNED_PORT$ng_path")
  printf '%-6s %-14s %12s %10s\n' $page activepath "$ap_rps" "$ap_p99"
  printf '%-6s %-14s %12s %10s\n' $page nginx "$ng_rps" "$ng_p99"
  printf '%-6s %-14s %12s %10s\n' $page nginx-tuned "$nt_rps" "$nt_p99"
  awk -v a="$ap_rps" -v n="$ng_rps" -v t="$nt_rps" -v p="$page" \
    'BEGIN { printf "%-6s ratio activepath/nginx: %.2f   activepath/nginx-tuned: %.2f\n", p, a / n, a / t }'
  if [ -n "$BASELINE_BIN" ]; then
    read -r b_rps b_p99 < <(measure "http://127.0.0.1:$BASE_PORT$ap_path")
    printf '%-6s %-14s %12s %10s\n' $page baseline "$b_rps" "$b_p99"
    awk -v a="$b_rps" -v n="$ng_rps" -v t="$nt_rps" -v c="$ap_rps" -v p="$page" \
      'BEGIN { printf "%-6s ratio baseline/nginx: %.2f   baseline/nginx-tuned: %.2f   activepath/baseline: %.2f\n", p, a / n, a / t, c / a }'
  fi
done

# Lighthouse's performance score for the home page, when the browser tests'
# npm packages are installed.
if [ -x /usr/bin/chromium ] && [ -d e2e/node_modules/lighthouse ]; then
  (cd e2e && CHROME_PATH=/usr/bin/chromium node node_modules/lighthouse/cli/index.js "http://127.0.0.1:$AP_PORT/" \
     --output=json --output-path="$work/lh.json" --quiet --only-categories=performance \
     --chrome-flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync" 2>/dev/null) \
   && node -e "const r=require('$work/lh.json'); console.log('home   Lighthouse performance: ' + Math.round(r.categories.performance.score*100))"
fi
