#!/usr/bin/env bash
# Metrics and tracing overhead (issue 12): the Q2 dashboard over HTTP against two
# servers on the same seeded SQLite file, one with metrics and OTLP export on
# (admin listener scraped every second, spans posted to a loopback sink), one
# with both off; wrk rounds alternate between them.
#   bench/observability.sh              # debug build (PROFILE=release for release)
# Env: STUDENTS (10000), ROUNDS (4), DURATION (15s), CONNECTIONS (16), BIN (a binary to
# run instead of target/PROFILE/confide, never rebuilt). Each round also prints the
# server's CPU ms per request (/proc), which the sink's and wrk's CPU do not disturb.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-debug}"
students="${STUDENTS:-10000}"
rounds="${ROUNDS:-4}"
duration="${DURATION:-15s}"
conns="${CONNECTIONS:-16}"
secret="bench-secret-bench-secret-bench-secret-0001"
off_port=18181; on_port=18182; admin_port=18183; sink_port=18184
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
bin="${BIN:-target/$profile/confide}"
# The binary `cargo test` builds is the same program: reuse it unless BUILD=1
# (a plain `cargo build` resolves features differently and rebuilds the dependencies).
if [ -z "${BIN:-}" ] && { [ "${BUILD:-0}" = 1 ] || [ ! -x "$bin" ]; }; then
  if [ "$profile" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
fi
mkdir -p target/bench
db=target/bench/observability.db
if [ ! -f "$db.seeded" ]; then
  rm -f "$db"*
  CONFIDE_LOG=warn $bin seed --database-url "sqlite://$PWD/$db?mode=rwc" --students "$students" --seed 1 > "$db.seeded"
fi
url="sqlite://$PWD/$db?mode=rwc"
practitioner=$(sed -n 's/^practitioner (counselling): //p' "$db.seeded")

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
python3 bench/otlp_sink.py $sink_port & pids+=($!)
CONFIDE_LOG=warn CONFIDE_JWT_SECRET="$secret" $bin serve --database-url "$url" \
  --bind "127.0.0.1:$off_port" >/dev/null 2>&1 & pids+=($!)
off_pid=$!
CONFIDE_LOG=warn CONFIDE_JWT_SECRET="$secret" $bin serve --database-url "$url" \
  --bind "127.0.0.1:$on_port" --admin-bind "127.0.0.1:$admin_port" \
  --otlp-endpoint "http://127.0.0.1:$sink_port" >/dev/null 2>&1 & pids+=($!)
on_pid=$!
for port in $off_port $on_port; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.3; done
done
token=$(CONFIDE_JWT_SECRET="$secret" $bin token --sub "$practitioner" --role practitioner --ttl 2h)
# Prometheus' scrape, every second while the "on" server is measured.
( while true; do curl -s "http://127.0.0.1:$admin_port/metrics" >/dev/null; sleep 1; done ) & pids+=($!)

# CPU ticks (user + system) of a process, and the clock's ticks per second.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
run() { # port duration [pid: also print its CPU ms per request]
  local before after out requests
  [ -n "${3:-}" ] && before=$(ticks "$3")
  out=$(BODY_FILE=bench/q2.json TOKEN="$token" wrk -t2 -c"$conns" -d"$2" --latency -s bench/post.lua \
    "http://127.0.0.1:$1/graphql" | grep RESULT)
  if [ -n "${3:-}" ]; then
    after=$(ticks "$3")
    requests=$(echo "$out" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
    out="$out cpu_ms_per_req=$(awk -v t=$((after - before)) -v n="$requests" -v hz="$hz" 'BEGIN { printf "%.3f", t * 1000 / hz / n }')"
  fi
  echo "$out"
}
echo "== warm-up 5 s each (not reported)"
run $off_port 5s >/dev/null; run $on_port 5s >/dev/null
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then order="off on"; else order="on off"; fi
  for mode in $order; do
    if [ "$mode" = off ]; then port=$off_port; pid=$off_pid; else port=$on_port; pid=$on_pid; fi
    echo "round=$r mode=$mode $(run $port "$duration" $pid)"
  done
done
echo "== spans exported: $(curl -s "http://127.0.0.1:$admin_port/metrics" | grep -c '^confide_' ) metric samples; sink received posts"
curl -s "http://127.0.0.1:$admin_port/metrics" | grep 'confide_graphql_requests_total'
