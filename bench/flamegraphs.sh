#!/usr/bin/env bash
# Where a request's time and work go, per scenario (issue 13, item 4):
#   - a CPU flame graph (SVG) of confide under load: perf with DWARF call graphs,
#     folded and drawn by inferno (cargo install inferno);
#   - SQL statements and casbin evaluations per request (`--report-cost`);
#   - heap allocations per request: heaptrack on a build with glibc's malloc
#     (`--features system-allocator`; mimalloc is invisible to heaptrack), as the
#     difference between 10 and 40 sequential requests, divided by 30.
# Scenarios: Q2 (the dashboard, a counsellor) and Q3 (a partner feed page of 100
# students), on SQLite and on PostgreSQL, over `confide seed --students 10000 --seed 1`.
#   bench/flamegraphs.sh [postgres-admin-url]
# Env: BIN (release binary; built otherwise), SYS_BIN (the system-allocator build;
# built otherwise), OUT (docs/flamegraphs), SECONDS_RECORDED (10), SCENARIOS
# ("q2-sqlite q3-sqlite q2-postgres q3-postgres"). A load run: give it a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
admin="${1:-postgres://postgres@127.0.0.1:5432/postgres}"
out="${OUT:-docs/flamegraphs}"
recorded="${SECONDS_RECORDED:-10}"
scenarios="${SCENARIOS:-q2-sqlite q3-sqlite q2-postgres q3-postgres}"
port=18085
secret="bench-secret-bench-secret-bench-secret-0001"
mkdir -p "$out" target/bench
for cmd in perf wrk heaptrack heaptrack_print inferno-collapse-perf inferno-flamegraph; do
  command -v "$cmd" >/dev/null || {
    echo "needs $cmd (perf: linux-perf; wrk, heaptrack: apt; inferno: cargo install inferno)" >&2
    exit 1
  }
done
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin confide
  cp target/release/confide target/bench/confide-mimalloc
  BIN=target/bench/confide-mimalloc
fi
if [ -z "${SYS_BIN:-}" ]; then
  cargo build --release --quiet --bin confide --features system-allocator
  cp target/release/confide target/bench/confide-system-allocator
  SYS_BIN=target/bench/confide-system-allocator
  # Leave target/release/confide as the default build.
  cargo build --release --quiet --bin confide
fi

declare -A urls practitioner partner
seed() {
  local backend=$1 url seed_out
  if [ "$backend" = postgres ]; then
    psql "$admin" -qc "drop database if exists confide_flame" >/dev/null
    psql "$admin" -qc "create database confide_flame" >/dev/null
    url="${admin%/*}/confide_flame"
  else
    rm -f target/bench/flame.db*
    url="sqlite://$PWD/target/bench/flame.db?mode=rwc"
  fi
  seed_out=$(CONFIDE_LOG=warn $BIN seed --database-url "$url" --students 10000 --seed 1)
  CONFIDE_LOG=warn $BIN operations add --database-url "$url" bench/q3.graphql >/dev/null
  [ "$backend" = postgres ] && psql "$url" -qc "vacuum analyze" >/dev/null
  urls[$backend]=$url
  practitioner[$backend]=$(echo "$seed_out" | sed -n 's/^practitioner (counselling): //p')
  partner[$backend]=$(echo "$seed_out" | sed -n 's/^partner (most consents): //p')
}

server=""
start() { # binary, url, [wrapper...]
  local bin=$1 url=$2
  shift 2
  CONFIDE_LOG=warn CONFIDE_JWT_SECRET="$secret" "$@" "$bin" serve --database-url "$url" \
    --bind "127.0.0.1:$port" --report-cost >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.2; done
  echo "server did not start" >&2
  exit 1
}
# SIGINT to the server (and to heaptrack's wrapper around it), which shuts down cleanly.
stop() {
  pkill -INT -f -- "--bind 127.0.0.1:$port" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap stop EXIT
post() { # token, body file
  curl -s -H "Authorization: Bearer $1" -H 'Content-Type: application/json' --data @"$2" \
    "http://127.0.0.1:$port/graphql"
}
allocations() { # heaptrack output file: calls to allocation functions
  heaptrack_print -f "$1" --print-peaks 0 --print-allocators 0 --print-temporary 0 --print-leaks 0 2>/dev/null |
    sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p'
}

echo "| scenario | SQL statements | casbin evaluations | allocations per request | response bytes |" >"$out/per-request.md"
echo "|---|---|---|---|---|" >>"$out/per-request.md"
for scenario in $scenarios; do
  query=${scenario%%-*}
  backend=${scenario#*-}
  [ -n "${urls[$backend]:-}" ] || seed "$backend"
  url=${urls[$backend]}
  if [ "$query" = q2 ]; then
    role=practitioner sub=${practitioner[$backend]} body=bench/q2.json
  else
    role=partner sub=${partner[$backend]} body=bench/q3.json
  fi
  token=$(CONFIDE_JWT_SECRET="$secret" $BIN token --sub "$sub" --role "$role" --ttl 2h)

  # The flame graph, under 16 connections.
  start "$BIN" "$url"
  BODY_FILE=$body TOKEN="$token" wrk -t2 -c16 -d5s -s bench/post.lua "http://127.0.0.1:$port/graphql" >/dev/null
  BODY_FILE=$body TOKEN="$token" wrk -t2 -c16 -d$((recorded + 3))s -s bench/post.lua "http://127.0.0.1:$port/graphql" >/dev/null &
  load=$!
  sleep 1
  perf record -F 249 --call-graph dwarf,16384 -p "$server" -o "target/bench/$scenario.perf" -- sleep "$recorded" 2>/dev/null
  wait $load
  response=$(post "$token" "$body")
  stop
  perf script -i "target/bench/$scenario.perf" 2>/dev/null | inferno-collapse-perf >"target/bench/$scenario.folded"
  inferno-flamegraph --title "confide $query on $backend, 16 connections (perf, $recorded s at 249 Hz)" \
    --minwidth 0.5 <"target/bench/$scenario.folded" >"$out/$scenario.svg"
  rm -f "target/bench/$scenario.perf"
  statements=$(echo "$response" | python3 -c 'import json,sys; print(json.load(sys.stdin)["extensions"]["cost"]["sqlStatements"])')
  evaluations=$(echo "$response" | python3 -c 'import json,sys; print(json.load(sys.stdin)["extensions"]["cost"]["casbinEvaluations"])')
  bytes=$(echo -n "$response" | wc -c)

  # Allocations per request: 40 sequential requests minus 10, over 30.
  declare -A calls=()
  for n in 10 40; do
    rm -f "target/bench/$scenario-heap.zst"
    start "$SYS_BIN" "$url" heaptrack -o "target/bench/$scenario-heap"
    for _ in $(seq 1 "$n"); do post "$token" "$body" >/dev/null; done
    stop
    sleep 1
    calls[$n]=$(allocations "target/bench/$scenario-heap.zst")
  done
  per_request=$(((calls[40] - calls[10]) / 30))
  echo "| $query on $backend | $statements | $evaluations | $per_request | $bytes |" | tee -a "$out/per-request.md"
done
echo "flame graphs and $out/per-request.md written"
