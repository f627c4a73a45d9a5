#!/usr/bin/env bash
# Plan check: serves the database bench/load.sh seeded on PostgreSQL (confide_bench) with BIN
# (default target/release/confide) and times 24 list, filter and audit queries the API offers,
# each 14 times, printing the median of the last 8 (the later ones run on the plan PostgreSQL
# keeps for a prepared statement). Run it before and after a change to how statements are
# written, to see that no query's plan got worse (BENCHMARKS.md run 25). Needs jq and bc.
#   BIN=/path/to/confide bash bench/plan_check.sh [ADMIN_URL]
set -uo pipefail
cd "$(dirname "$0")/.."
secret="bench-secret-bench-secret-bench-secret-0001"; port=18090
bin=${BIN:-target/release/confide}
admin="${1:-postgres://postgres@127.0.0.1:5432/postgres}"
url="${admin%/*}/confide_bench"
practitioner=$(sed -n 's/^practitioner (counselling): //p' target/bench/seed-postgres.txt)
dpo_id=$(psql "$url" -Atc "select id from staff where role = 'dpo' order by id limit 1")
CONFIDE_LOG=warn CONFIDE_JWT_SECRET="$secret" $bin serve --database-url "$url" --bind "127.0.0.1:$port" ${SERVE_ARGS:-} >/dev/null 2>&1 &
server=$!; out=$(mktemp); trap 'kill $server; rm -f "$out"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
prac=$(CONFIDE_JWT_SECRET="$secret" $bin token --sub "$practitioner" --role practitioner --ttl 2h)
dpo=$(CONFIDE_JWT_SECRET="$secret" $bin token --sub "$dpo_id" --role dpo --ttl 2h)
stu=$(psql "$url" -Atc "select student_id from support_case where service='counselling' order by id limit 1 offset 777")
run() { # name token query
  local name=$1 tok=$2 q=$3 ts=()
  body=$(jq -cn --arg q "$q" '{query:$q}')
  for i in $(seq 1 14); do
    t=$(curl -s -o "$out" -w '%{time_total}' -H "authorization: Bearer $tok" -H 'content-type: application/json' -d "$body" http://127.0.0.1:$port/graphql)
    ts+=($t)
  done
  med=$(printf '%s\n' "${ts[@]:6}" | sort -n | sed -n 4p)
  printf '%-28s median %6.1f ms  %s\n' "$name" "$(echo "$med*1000" | bc)" "$(head -c 90 "$out")"
}
C='edges { node { id status openedAt riskLevel } }'
run status_closed "$prac" "{ supportCases(first: 50, filter: {status: CLOSED}) { $C } }"
run status_open "$prac" "{ supportCases(first: 50, filter: {status: OPEN}) { $C } }"
run opened_after_recent "$prac" "{ supportCases(first: 50, filter: {openedAfter: \"2026-08-20T00:00:00Z\"}) { $C } }"
run opened_before_old "$prac" "{ supportCases(first: 50, filter: {openedBefore: \"2025-09-10T00:00:00Z\"}) { $C } }"
run opened_window "$prac" "{ supportCases(first: 50, filter: {openedAfter: \"2026-01-01T00:00:00Z\", openedBefore: \"2026-01-03T00:00:00Z\"}) { $C } }"
run assigned_to_me "$prac" "{ supportCases(first: 50, filter: {assignedToMe: true}) { $C } }"
run risk_high "$prac" "{ supportCases(first: 50, filter: {riskLevel: HIGH}) { $C } }"
run by_student "$prac" "{ supportCases(first: 50, filter: {studentId: \"$stu\"}) { $C } }"
run note_contains "$prac" "{ supportCases(first: 20, filter: {noteContains: \"sleep\"}) { $C } }"
run order_opened_desc "$prac" "{ supportCases(first: 50, orderBy: OPENED_AT_DESC) { $C } }"
run order_risk "$prac" "{ supportCases(first: 50, orderBy: RISK_LEVEL_DESC) { $C } }"
run total_count "$prac" "{ supportCases(first: 10, filter: {status: OPEN}) { totalCount } }"
run students_name "$prac" "{ students(first: 50, filter: {nameContains: \"an\"}) { edges { node { id name } } } }"
run students_order_name "$prac" "{ students(first: 50, orderBy: NAME) { edges { node { id name } } } }"
run student_cases "$prac" "{ student(id: \"$stu\") { name cases { id status notes { body } } } }"
run dpo_cases "$dpo" "{ supportCases(first: 50) { $C } }"
run audit_student "$dpo" "{ auditEvents(studentId: \"$stu\", limit: 100) { seq action } }"
# A student on the dashboard's first page: read by every request of bench/load.sh's runs.
busy=$(psql "$url" -Atc "select student_id from audit_event where student_id is not null order by seq desc limit 1")
run audit_student_busy "$dpo" "{ auditEvents(studentId: \"$busy\", limit: 100) { seq action } }"
# The student whose newest record is the oldest: read often once, not since.
quiet=$(psql "$url" -Atc "select student_id from audit_event where student_id is not null group by 1 order by max(seq) limit 1")
run audit_student_not_lately "$dpo" "{ auditEvents(studentId: \"$quiet\", limit: 100) { seq action } }"
run audit_actor "$dpo" "{ auditEvents(actorId: \"$practitioner\", limit: 100) { seq } }"
# The audit records of the last three hours (bench/load.sh's runs write them).
recent=$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)
run audit_from "$dpo" "{ auditEvents(from: \"$recent\", limit: 100) { seq } }"
# Records up to a quarter of the way into the trail: a page of old records.
quarter=$(psql "$url" -Atc "select to_char(occurred_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') from audit_event where seq = (select max(seq) / 4 from audit_event)")
run audit_to_old "$dpo" "{ auditEvents(to: \"$quarter\", limit: 100) { seq } }"
run audit_outcome "$dpo" "{ auditEvents(outcome: \"deny\", limit: 100) { seq } }"
run statistics "$dpo" "{ statistics(measure: CASES, groupBy: [SERVICE, STATUS]) { total { count } cells { count suppressed } } }"
