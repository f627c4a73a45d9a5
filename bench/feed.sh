#!/usr/bin/env bash
# Partner feed benchmark: a full sync of every student, page by page, by one
# partner that every student has consented to, on seeded data (release build).
#   bench/feed.sh sqlite            # SQLite file under target/bench
#   bench/feed.sh postgres URL      # a PostgreSQL admin URL; creates database confide_feed
# Env: STUDENTS (10000), PAGE (100).
# Prints the SQL statements and casbin evaluations of one page, and the time of
# a full sync (entries only, and with each student's record as the README's
# worked example reads it).
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
students="${STUDENTS:-10000}"
port=18081
secret="bench-secret-bench-secret-bench-secret-0001"

cargo build --release --quiet
bin=target/release/confide
mkdir -p target/bench
if [ "$backend" = postgres ]; then
  admin="${2:-postgres://postgres@127.0.0.1:5432/postgres}"
  psql "$admin" -qc "drop database if exists confide_feed" >/dev/null
  psql "$admin" -qc "create database confide_feed" >/dev/null
  url="${admin%/*}/confide_feed"
else
  rm -f target/bench/feed.db*
  url="sqlite://$PWD/target/bench/feed.db?mode=rwc"
fi

echo "== seeding $students students ($backend)"
seed_out=$(CONFIDE_LOG=warn $bin seed --database-url "$url" --students "$students" --seed 1)
partner=$(echo "$seed_out" | sed -n 's/^partner (most consents): //p')
# Every student consents to this partner (IDENTITY, CONTACT, SUPPORT_SUMMARY,
# CASE_NOTES), given when the student was created.
columns="id, student_id, recipient_kind, recipient_ref, categories, excluded_labels, case_id, purpose, given_at, expires_at, form_reference, recorded_by, recorded_by_role, withdrawn_at, withdrawn_by, withdrawal_reason, created_at"
categories='["IDENTITY","CONTACT","SUPPORT_SUMMARY","CASE_NOTES"]'
# Students whose processing is restricted are never in a feed.
if [ "$backend" = postgres ]; then
  expected=$(psql "$url" -Atc "select count(*) from student where not processing_restricted")
else
  expected=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from student where processing_restricted = 0').fetchone()[0])" "$PWD/target/bench/feed.db")
fi
if [ "$backend" = postgres ]; then
  psql "$url" -qc "insert into consent ($columns) select gen_random_uuid(), id, 'partner', '$partner', '$categories', '[]', null, 'Bench', created_at, null, null, id, 'student', null, null, null, created_at from student" >/dev/null
  psql "$url" -qc "vacuum analyze" >/dev/null
else
  python3 - "$PWD/target/bench/feed.db" "$partner" "$categories" "$columns" <<'PY'
import sqlite3, sys, uuid
db, partner, categories, columns = sys.argv[1:]
con = sqlite3.connect(db)
kind = con.execute("select typeof(id) from student limit 1").fetchone()[0]
rows = con.execute("select id, created_at from student").fetchall()
def new_id():
    u = uuid.uuid4()
    return u.bytes if kind == "blob" else str(u)
con.executemany(
    f"insert into consent ({columns}) values (?, ?, 'partner', ?, ?, '[]', null, 'Bench', ?, null, null, ?, 'student', null, null, null, ?)",
    [(new_id(), sid, partner, categories, created, sid, created) for sid, created in rows],
)
con.commit()
PY
fi

CONFIDE_LOG=warn CONFIDE_JWT_SECRET="$secret" CONFIDE_REPORT_COST=true CONFIDE_FEED_SETTLE_SECS=0 \
  $bin serve --database-url "$url" --bind "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
token=$(CONFIDE_JWT_SECRET="$secret" $bin token --sub "$partner" --role partner --ttl 2h)
python3 bench/feed_sync.py "http://127.0.0.1:$port/graphql" "$token" "${PAGE:-100}" "$expected" "$backend"
echo "peak RSS: $(grep VmHWM /proc/$server/status | awk '{print $2, $3}')"
