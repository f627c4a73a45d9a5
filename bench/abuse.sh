#!/usr/bin/env bash
# Abuse benchmark: the dashboard load (wrk, 16 connections) alone, then the same
# load while bench/attacks.py sends the attack mix for 60 s (fragment bombs,
# multiplying nested lists, alias floods, note-search floods, out-of-range
# cursors, NUL bytes, oversize and trickling bodies). Reports the normal
# callers' req/s, p99 and errors with and without the abuse, each attack's time
# to refusal, and the server's peak RSS.
#   bench/abuse.sh sqlite            # SQLite file under target/bench (default)
#   bench/abuse.sh postgres URL      # a PostgreSQL admin URL; creates confide_abuse
# Env: STUDENTS (10000), DURATION (60s), ATTACK_SECONDS (60).
set -euo pipefail
cd "$(dirname "$0")/.."
students="${STUDENTS:-10000}"
duration="${DURATION:-60s}"
port=18081
secret="bench-secret-bench-secret-bench-secret-0001"
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }

cargo build --release --quiet
bin=target/release/confide
mkdir -p target/bench
backend="${1:-sqlite}"
if [ "$backend" = postgres ]; then
  admin="${2:-postgres://postgres@127.0.0.1:5432/postgres}"
  psql "$admin" -qc "drop database if exists confide_abuse" >/dev/null
  psql "$admin" -qc "create database confide_abuse" >/dev/null
  url="${admin%/*}/confide_abuse"
else
  rm -f target/bench/abuse.db*
  url="sqlite://$PWD/target/bench/abuse.db?mode=rwc"
fi
seed_out=$(CONFIDE_LOG=warn $bin seed --database-url "$url" --students "$students" --seed 1)
echo "$seed_out" | head -1
practitioner=$(echo "$seed_out" | sed -n 's/^practitioner (counselling): //p')
if [ "$backend" = postgres ]; then
  psql "$url" -qc "vacuum analyze" >/dev/null
fi

CONFIDE_LOG=error CONFIDE_JWT_SECRET="$secret" $bin serve --database-url "$url" --bind "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
token=$(CONFIDE_JWT_SECRET="$secret" $bin token --sub "$practitioner" --role practitioner --ttl 2h)

run_load() {
  BODY_FILE=bench/q2.json TOKEN="$token" wrk -t2 -c16 -d"$duration" --latency -s bench/post.lua "http://127.0.0.1:$port/graphql" | grep RESULT
}

echo "== warm-up 10 s"
BODY_FILE=bench/q2.json TOKEN="$token" wrk -t2 -c16 -d10s -s bench/post.lua "http://127.0.0.1:$port/graphql" >/dev/null
echo "== dashboard alone ($duration, 16 connections)"
run_load
echo "== dashboard under the attack mix"
URL="http://127.0.0.1:$port/graphql" TOKEN="$token" ATTACK_SECONDS="${ATTACK_SECONDS:-60}" python3 bench/attacks.py > target/bench/attacks.out &
attacker=$!
run_load
wait $attacker || true
cat target/bench/attacks.out
echo "healthz after: $(curl -s -o /dev/null -w '%{http_code} in %{time_total}s' http://127.0.0.1:$port/healthz)"
echo "peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$server/status)"
