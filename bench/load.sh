#!/usr/bin/env bash
# HTTP load benchmark: confide serve (release) over seeded data, driven by wrk.
#   bench/load.sh sqlite            # SQLite file under target/bench
#   bench/load.sh postgres URL      # a PostgreSQL admin URL; creates database confide_bench
# Env: STUDENTS (10000), DURATION (30s), SOAK_MINUTES (0 = no soak), SOAK_DELAY_MS (20),
# IDLE_SAMPLES (1: RSS every 10 s after the soak), BIN (a binary to run instead of building),
# REUSE (1: the database seeded by the last run), QUERIES ("Q2 Q3"), CONNS ("16 64"), SERVE_ARGS (more flags for `confide serve`, e.g.
# "--max-cost-in-flight 100000000" to measure without the in-flight cost budget).
# Runs Q2 (the dashboard) and Q3 (a partner feed page of 100 students) at 16 and 64
# connections. Prints one RESULT line per run, CPU milliseconds per request (confide; PostgreSQL
# when its data directory is readable here) and confide's peak RSS during that run (the
# kernel's high-water mark is reset before each run), then the peak over all runs.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
students="${STUDENTS:-10000}"
duration="${DURATION:-30s}"
port=18080
secret="bench-secret-bench-secret-bench-secret-0001"
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }

# BIN: a confide binary to measure as it is (no build); else the release build.
if [ -n "${BIN:-}" ]; then
  bin="$BIN"
else
  cargo build --release --quiet
  bin=target/release/confide
fi
mkdir -p target/bench
# REUSE=1: serve the database the last run seeded (same backend), without
# seeding again (PostgreSQL's seed takes about 3 minutes), to compare builds.
seed_file="target/bench/seed-$backend.txt"
if [ "$backend" = postgres ]; then
  admin="${2:-postgres://postgres@127.0.0.1:5432/postgres}"
  url="${admin%/*}/confide_bench"
else
  url="sqlite://$PWD/target/bench/bench.db?mode=rwc"
fi
if [ "${REUSE:-0}" = 1 ] && [ -s "$seed_file" ]; then
  echo "== reusing the $backend database seeded before"
  seed_out=$(cat "$seed_file")
else
  if [ "$backend" = postgres ]; then
    psql "$admin" -qc "drop database if exists confide_bench" >/dev/null
    psql "$admin" -qc "create database confide_bench" >/dev/null
  else
    rm -f target/bench/bench.db*
  fi
  echo "== seeding $students students ($backend)"
  seed_out=$(CONFIDE_LOG=warn $bin seed --database-url "$url" --students "$students" --seed 1)
  echo "$seed_out" >"$seed_file"
  # Q3, the partner feed page: a partner runs only registered operations, so the
  # document (bench/q3.graphql, sent whole in bench/q3.json) is registered first.
  CONFIDE_LOG=warn $bin operations add --database-url "$url" bench/q3.graphql >/dev/null
  if [ "$backend" = postgres ]; then
    # A database in service has been vacuumed; a bulk load has not (the seed runs
    # ANALYZE itself). Without this, autovacuum's first pass lands inside the run.
    psql "$url" -qc "vacuum analyze" >/dev/null
  fi
fi
echo "$seed_out" | head -1
practitioner=$(echo "$seed_out" | sed -n 's/^practitioner (counselling): //p')
partner=$(echo "$seed_out" | sed -n 's/^partner (most consents): //p')

CONFIDE_LOG=warn CONFIDE_JWT_SECRET="$secret" $bin serve --database-url "$url" --bind "127.0.0.1:$port" ${SERVE_ARGS:-} >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
token=$(CONFIDE_JWT_SECRET="$secret" $bin token --sub "$practitioner" --role practitioner --ttl 2h)
partner_token=$(CONFIDE_JWT_SECRET="$secret" $bin token --sub "$partner" --role partner --ttl 2h)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
# CPU of the PostgreSQL server serving $url: its postmaster's own and reaped
# children's time (fields 14-17) plus its live children's (backends, autovacuum).
# 0 for SQLite, whose work is inside the confide process, and for a server whose
# data directory is not readable from here (a remote one).
postmaster=""
if [ "$backend" = postgres ]; then
  datadir=$(psql "$url" -Atc "show data_directory" 2>/dev/null || true)
  postmaster=$(head -1 "$datadir/postmaster.pid" 2>/dev/null || true)
fi
db_ticks() {
  if [ -z "$postmaster" ]; then
    echo 0
    return
  fi
  local t
  t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$postmaster/stat")
  for p in $(pgrep -P "$postmaster"); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
hz=$(getconf CLK_TCK)

echo "== warm-up: 10 s at 16 connections (not reported)"
BODY_FILE=bench/q2.json TOKEN="$token" wrk -t2 -c16 -d10s -s bench/post.lua "http://127.0.0.1:$port/graphql" >/dev/null

# One measured run: query name, body file, token, connections.
measure() {
  local name=$1 body=$2 tok=$3 c=$4 before after db_before db_after out requests cpu_ms db_ms
  # Reset the high-water mark (VmHWM) so each run reports its own peak RSS.
  echo 5 >"/proc/$server/clear_refs" 2>/dev/null || true
  before=$(cpu_ticks)
  db_before=$(db_ticks)
  out=$(BODY_FILE="$body" TOKEN="$tok" wrk -t2 -c"$c" -d"$duration" --latency -s bench/post.lua "http://127.0.0.1:$port/graphql" | grep RESULT)
  after=$(cpu_ticks)
  db_after=$(db_ticks)
  requests=$(echo "$out" | sed 's/.*requests=\([0-9]*\).*/\1/')
  cpu_ms=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.3f", (t / hz) * 1000 / n }')
  db_ms=$(awk -v t=$((db_after - db_before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.3f", (t / hz) * 1000 / n }')
  [ -n "$postmaster" ] || db_ms="n/a"
  peak_kb=$(grep VmHWM "/proc/$server/status" | awk '{print $2}')
  [ "$peak_kb" -gt "$overall_peak_kb" ] && overall_peak_kb=$peak_kb
  echo "$name $backend c=$c $out server_cpu_ms_per_request=$cpu_ms db_cpu_ms_per_request=$db_ms peak_rss_mb=$((peak_kb / 1024))"
}
overall_peak_kb=$(grep VmHWM "/proc/$server/status" | awk '{print $2}')
for q in ${QUERIES:-Q2 Q3}; do
  for c in ${CONNS:-16 64}; do
    case $q in
      Q2) measure Q2 bench/q2.json "$token" "$c" ;;
      Q3) measure Q3 bench/q3.json "$partner_token" "$c" ;;
      *) echo "unknown query $q (Q2, Q3)" >&2; exit 2 ;;
    esac
  done
done
echo "peak RSS: $((overall_peak_kb / 1024)) MB"

soak="${SOAK_MINUTES:-0}"
if [ "$soak" -gt 0 ]; then
  echo "== soak: ${soak} min at a steady rate (4 connections, ${SOAK_DELAY_MS:-20} ms between requests)"
  (BODY_FILE=bench/q2.json TOKEN="$token" DELAY_MS="${SOAK_DELAY_MS:-20}" wrk -t1 -c4 -d"${soak}m" -s bench/post.lua "http://127.0.0.1:$port/graphql" | grep RESULT) &
  wrk_pid=$!
  soak_start=$(date -u +'%Y-%m-%d %H:%M:%S+00')
  # With confide's RSS: its connections to PostgreSQL (the pool's size), to
  # tell a pool refill from growth.
  pool() {
    if [ "$backend" = postgres ]; then
      # How many are open, and how many of those were opened since the soak
      # began (a connection replaced by the pool counts there).
      psql "$url" -Atc "select count(*) || ' opened_since_soak=' || count(*) filter (where backend_start > '$soak_start') from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'" 2>/dev/null || echo "?"
    else
      echo "n/a"
    fi
  }
  # Of that RSS, the part in transparent huge pages: mimalloc asks for them
  # (MADV_HUGEPAGE) and the kernel's khugepaged collapses its arena into them
  # in the background, filling each 2 MiB range (BENCHMARKS.md run 17).
  huge() { awk '/^AnonHugePages:/ {print $2}' "/proc/$server/smaps_rollup" 2>/dev/null || echo "?"; }
  for i in $(seq 0 $((soak * 2))); do
    echo "soak t=$((i * 30))s rss_kb=$(grep VmRSS /proc/$server/status | awk '{print $2}') anon_huge_kb=$(huge) db_connections=$(pool)"
    sleep 30
  done
  wait $wrk_pid
  for i in $(seq 1 "${IDLE_SAMPLES:-1}"); do
    sleep 10
    echo "soak done, idle $((i * 10))s: rss_kb=$(grep VmRSS /proc/$server/status | awk '{print $2}') anon_huge_kb=$(huge) db_connections=$(pool)"
  done
fi
