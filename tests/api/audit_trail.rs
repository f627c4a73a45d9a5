//! The audit trail is a hash chain (issue 10, item 1): every record carries its
//! position, the previous record's hash and its own; concurrent writers do not
//! fork it; `confide audit verify` finds an edited, a deleted and a truncated
//! record; the database refuses UPDATE and DELETE of audit records; each record
//! names the lawful basis of its basis. On SQLite and PostgreSQL.
//!
//! The tamper tests first remove the append-only triggers, as an attacker with
//! direct database access (owner rights) could: the chain is what still finds
//! the change.

use crate::helpers::{id, spawn_app, TestApp};
use confide::domain::Role;
use confide::service::audit::{self, BrokenLink, Problem, Verification};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

const READ: &str = r#"query($id: ID!) { student(id: $id) { name department } }"#;

/// One audited read of Alice by her counsellor.
async fn read(app: &TestApp) {
    app.as_caller(
        app.demo.counsellor,
        Role::Practitioner,
        READ,
        json!({ "id": id(app.demo.alice) }),
    )
    .await
    .assert_no_errors();
}

/// How long one [`read`] took, audit write included.
async fn timed_read(app: &TestApp) -> std::time::Duration {
    let started = std::time::Instant::now();
    read(app).await;
    started.elapsed()
}

/// The whole trail verifies, and holds `records` records.
async fn assert_chain_verifies(app: &TestApp, records: i64) {
    assert_eq!(
        audit::verify(&app.db).await.expect("verify"),
        Verification::Verified {
            records: u64::try_from(records).expect("count")
        }
    );
}

/// Every audit record, in chain order.
async fn records_in_chain_order(app: &TestApp) -> Vec<entity::audit_event::Model> {
    entity::audit_event::Entity::find()
        .order_by_asc(entity::audit_event::Column::Seq)
        .all(&app.db)
        .await
        .expect("audit rows")
}

/// Some chained records to tamper with.
async fn seeded(app: &TestApp) -> u64 {
    for _ in 0..3 {
        read(app).await;
    }
    match audit::verify(&app.db).await.expect("verify") {
        Verification::Verified { records } => {
            assert!(records >= 3, "{records}");
            records
        }
        broken => panic!("an untouched chain is broken: {broken:?}"),
    }
}

/// What an attacker with owner rights on the database can do first.
async fn remove_append_only_triggers(app: &TestApp) {
    let statements: &[&str] = match app.db.get_database_backend() {
        DbBackend::Postgres => &["ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"],
        _ => &[
            "DROP TRIGGER audit_event_no_update",
            "DROP TRIGGER audit_event_no_delete",
        ],
    };
    for sql in statements {
        app.db.execute_unprepared(sql).await.expect(sql);
    }
}

fn broken(verification: Verification) -> BrokenLink {
    match verification {
        Verification::Broken(link) => link,
        Verification::Verified { records } => {
            panic!("tampering not found: verified {records} records")
        }
    }
}

/// `confide audit verify` as an operator runs it: exit status and output.
fn verify_cli(app: &TestApp) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_confide"))
        .args(["audit", "verify", "--database-url", &app.db_url])
        .output()
        .expect("run confide audit verify");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    )
}

#[tokio::test]
async fn twenty_parallel_reads_by_a_practitioner_extend_one_unforked_chain() {
    let app = spawn_app().await;
    let before = app.count("audit_event").await;
    let reads = (0..20).map(|_| read(&app));
    futures_util::future::join_all(reads).await;
    let after = app.count("audit_event").await;
    assert!(after >= before + 20, "{before} -> {after}");
    assert_chain_verifies(&app, after).await;
    let rows = records_in_chain_order(&app).await;
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq.expect("chained")).collect();
    assert_eq!(seqs, (1..=after).collect::<Vec<i64>>());
    let (ok, line) = verify_cli(&app);
    assert!(ok, "{line}");
    assert_eq!(line, format!("audit chain verified: {after} records"));
}

/// Reads in parallel with writes: the writes move the chain head in their own
/// transactions while the audit writer chains its batches after the head it
/// last committed (on PostgreSQL): every read is answered, each batch that
/// found the head moved is chained again after it, and the chain has no fork
/// and no gap.
#[tokio::test]
async fn parallel_reads_and_writes_extend_one_unforked_chain() {
    let app = spawn_app().await;
    let write = |i: usize| {
        app.as_caller(
            app.demo.reception,
            Role::Reception,
            r#"mutation($id: ID!, $c: String!) { updateStudent(id: $id, input: { course: $c }) { course } }"#,
            json!({ "id": id(app.demo.alice), "c": format!("Course {i}") }),
        )
    };
    for round in 0..3 {
        let reads = futures_util::future::join_all((0..12).map(|_| read(&app)));
        let writes = futures_util::future::join_all((0..4).map(|i| write(round * 4 + i)));
        let (_, written) = tokio::join!(reads, writes);
        for w in written {
            w.assert_no_errors();
        }
    }
    let after = app.count("audit_event").await;
    assert_chain_verifies(&app, after).await;
    let practitioner_reads = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Basis.eq("role:practitioner"))
        .all(&app.db)
        .await
        .expect("audit rows")
        .len();
    assert!(practitioner_reads >= 36, "{practitioner_reads}");
}

/// Reads finishing together have their records written in one transaction
/// (the audit batcher): each request's records stay one unbroken run of the
/// chain, under its own request id, as if written alone.
#[tokio::test]
async fn reads_written_together_keep_each_requests_records_consecutive_in_the_chain() {
    let app = spawn_app().await;
    let reads = (0..30).map(|_| {
        app.as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            "{ supportCases(first: 5) { edges { node { id student { name } } } } }",
            json!({}),
        )
    });
    for body in futures_util::future::join_all(reads).await {
        body.assert_no_errors();
    }
    let rows = records_in_chain_order(&app).await;
    let mut finished = std::collections::HashSet::new();
    let mut current: Option<uuid::Uuid> = None;
    // Records with no request (the demo data's own) are not requests' runs.
    for request in rows.iter().filter_map(|r| r.request_id) {
        if current != Some(request) {
            finished.extend(current);
            assert!(
                !finished.contains(&request),
                "the records of request {request} are split in the chain"
            );
            current = Some(request);
        }
    }
    finished.extend(current);
    assert!(finished.len() >= 30, "{} requests recorded", finished.len());
    let records = u64::try_from(rows.len()).expect("count");
    assert_eq!(
        audit::verify(&app.db).await.expect("verify"),
        Verification::Verified { records }
    );
}

#[tokio::test]
async fn an_audit_record_edited_directly_in_the_database_is_found_by_audit_verify_at_its_seq() {
    let app = spawn_app().await;
    seeded(&app).await;
    remove_append_only_triggers(&app).await;
    app.db
        .execute_unprepared("UPDATE audit_event SET outcome = 'deny' WHERE seq = 2")
        .await
        .expect("edit");
    let link = broken(audit::verify(&app.db).await.expect("verify"));
    assert_eq!((link.seq, link.problem), (2, Problem::Edited));
    let (ok, line) = verify_cli(&app);
    assert!(!ok, "{line}");
    assert!(line.starts_with("audit chain broken at seq 2 "), "{line}");
    assert!(line.contains("edited"), "{line}");
}

#[tokio::test]
async fn an_audit_record_deleted_directly_in_the_database_is_found_by_audit_verify_as_a_gap() {
    let app = spawn_app().await;
    seeded(&app).await;
    remove_append_only_triggers(&app).await;
    app.db
        .execute_unprepared("DELETE FROM audit_event WHERE seq = 2")
        .await
        .expect("delete");
    let link = broken(audit::verify(&app.db).await.expect("verify"));
    assert_eq!((link.seq, link.problem), (2, Problem::Missing { found: 3 }));
    let (ok, line) = verify_cli(&app);
    assert!(!ok, "{line}");
    assert!(line.contains("seq 2: deleted or missing"), "{line}");
}

#[tokio::test]
async fn the_last_audit_record_deleted_is_found_by_audit_verify_against_the_chain_head() {
    let app = spawn_app().await;
    let records = seeded(&app).await;
    remove_append_only_triggers(&app).await;
    let last = i64::try_from(records).expect("records");
    app.db
        .execute_unprepared(&format!("DELETE FROM audit_event WHERE seq = {last}"))
        .await
        .expect("delete");
    let link = broken(audit::verify(&app.db).await.expect("verify"));
    assert_eq!(
        (link.seq, link.problem),
        (last, Problem::HeadMismatch { head_seq: last })
    );
}

#[tokio::test]
async fn the_database_refuses_to_update_or_delete_an_audit_record() {
    let app = spawn_app().await;
    seeded(&app).await;
    for sql in [
        "UPDATE audit_event SET outcome = 'deny' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 1",
    ] {
        let err = app
            .db
            .execute_unprepared(sql)
            .await
            .expect_err("audit_event is append-only");
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert!(matches!(
        audit::verify(&app.db).await.expect("verify"),
        Verification::Verified { .. }
    ));
}

#[tokio::test]
async fn each_audit_record_names_the_lawful_basis_its_basis_rests_on() {
    let app = spawn_app().await;
    read(&app).await;
    let rows = entity::audit_event::Entity::find()
        .all(&app.db)
        .await
        .expect("audit rows");
    let role_read = rows
        .iter()
        .find(|r| r.basis.as_deref() == Some("role:practitioner"))
        .expect("the practitioner's read");
    assert_eq!(
        role_read.lawful_basis.as_deref(),
        Some("UK GDPR Art. 6(1)(e) public task; Art. 9(2)(h) health or social care")
    );
}

const SET_BASIS: &str = r#"mutation($kind: BasisKind!, $a6: String!, $a9: String!) {
    setLawfulBasis(kind: $kind, article6: $a6, article9: $a9) { kind article6 article9 updatedBy } }"#;

/// The lawful basis recorded with the newest practitioner's read.
async fn newest_role_read_basis(app: &TestApp) -> Option<String> {
    entity::audit_event::Entity::find()
        .order_by_desc(entity::audit_event::Column::Seq)
        .all(&app.db)
        .await
        .expect("audit rows")
        .into_iter()
        .find(|r| r.basis.as_deref() == Some("role:practitioner"))
        .expect("the practitioner's read")
        .lawful_basis
}

#[tokio::test]
async fn the_dpo_sets_the_lawful_basis_of_a_kind_and_later_records_carry_it_earlier_ones_keep_theirs(
) {
    let app = spawn_app().await;
    read(&app).await;
    let before = newest_role_read_basis(&app).await;
    let set = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            SET_BASIS,
            json!({ "kind": "ROLE", "a6": "Art. 6(1)(e) public task", "a9": "Art. 9(2)(g) substantial public interest" }),
        )
        .await;
    set.assert_no_errors();
    assert_eq!(
        set.data()["setLawfulBasis"]["updatedBy"],
        json!(id(app.demo.dpo))
    );
    read(&app).await;
    assert_eq!(
        newest_role_read_basis(&app).await.as_deref(),
        Some("UK GDPR Art. 6(1)(e) public task; Art. 9(2)(g) substantial public interest")
    );
    let rows = records_in_chain_order(&app).await;
    let first = rows
        .iter()
        .find(|r| r.basis.as_deref() == Some("role:practitioner"))
        .expect("the first read");
    assert_eq!(
        first.lawful_basis, before,
        "an earlier record keeps its basis"
    );
    assert!(
        rows.iter().any(|r| r.action == "lawful_basis_configured"
            && r.actor_id == app.demo.dpo
            && r.detail
                .as_deref()
                .is_some_and(|d| d.contains("9(2)(h)") && d.contains("9(2)(g)"))),
        "the change is audited with the previous and new conditions"
    );
    assert!(matches!(
        audit::verify(&app.db).await.expect("verify"),
        Verification::Verified { .. }
    ));
    let listed = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            "{ lawfulBases { kind article6 article9 } }",
            json!({}),
        )
        .await;
    listed.assert_no_errors();
    let kinds: Vec<&str> = listed.data()["lawfulBases"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|b| b["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "consent",
            "emergency",
            "legal_authority",
            "risk_exception",
            "role",
            "subject_access_request"
        ]
    );
}

#[tokio::test]
async fn only_the_dpo_sets_a_lawful_basis_and_a_malformed_condition_is_bad_user_input() {
    let app = spawn_app().await;
    let vars = json!({ "kind": "CONSENT", "a6": "Art. 6(1)(f) legitimate interests", "a9": "Art. 9(2)(a) explicit consent" });
    for (who, role) in [
        (app.demo.counselling_lead, Role::ServiceLead),
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.alice, Role::Student),
    ] {
        let res = app.as_caller(who, role, SET_BASIS, vars.clone()).await;
        assert_eq!(res.codes(), ["FORBIDDEN"], "{role:?}");
    }
    for (a6, a9) in [
        ("legitimate interests", "Art. 9(2)(a) explicit consent"),
        ("Art. 6(1)(g) invented", "Art. 9(2)(a) explicit consent"),
        ("Art. 6(1)(a) consent", "Art. 6(1)(a) consent"),
    ] {
        let res = app
            .as_caller(
                app.demo.dpo,
                Role::Dpo,
                SET_BASIS,
                json!({ "kind": "CONSENT", "a6": a6, "a9": a9 }),
            )
            .await;
        assert_eq!(res.codes(), ["BAD_USER_INPUT"], "{a6} / {a9}");
    }
    let stored = entity::lawful_basis::Entity::find_by_id("consent".to_owned())
        .one(&app.db)
        .await
        .expect("query")
        .expect("seeded");
    assert_eq!(
        (stored.article6.as_str(), stored.updated_by),
        ("Art. 6(1)(a) consent", None),
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn a_read_whose_lawful_basis_is_not_configured_is_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    // A read first, so the audit writer knows the chain (on PostgreSQL it
    // appends the next batch after the head it last committed): the
    // configuration removed directly in the database, with no audit record
    // moving the head, must still be seen.
    read(&app).await;
    app.db
        .execute_unprepared("DELETE FROM lawful_basis WHERE kind = 'role'")
        .await
        .expect("remove the configuration");
    let audited = app.count("audit_event").await;
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            READ,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    assert_eq!(res.codes(), ["INTERNAL"], "{:#}", res.body);
    assert!(
        res.body["data"].is_null() || res.data()["student"].is_null(),
        "no data without its audit record: {:#}",
        res.body
    );
    assert_eq!(app.count("audit_event").await, audited);
}

#[tokio::test]
async fn a_read_after_the_lawful_bases_changed_directly_in_the_database_carries_the_new_basis() {
    let app = spawn_app().await;
    read(&app).await;
    // No audit record moves the chain head with this change: only the bases
    // themselves say that they changed.
    app.db
        .execute_unprepared(
            "UPDATE lawful_basis SET article6 = 'Art. 6(1)(c) legal obligation' WHERE kind = 'role'",
        )
        .await
        .expect("change the configuration");
    read(&app).await;
    let basis = newest_role_read_basis(&app).await.expect("a lawful basis");
    assert!(
        basis.starts_with("UK GDPR Art. 6(1)(c) legal obligation;"),
        "{basis}"
    );
    assert_chain_verifies(&app, app.count("audit_event").await).await;
}

#[tokio::test]
async fn reads_around_a_write_that_moved_the_chain_head_are_chained_after_it() {
    let app = spawn_app().await;
    let audited = usize::try_from(app.count("audit_event").await).expect("count");
    read(&app).await;
    // A write's records are chained in its own transaction: the head moves
    // without the audit writer, which (on PostgreSQL) appends its next batch
    // after the head it last committed unless that head has moved.
    app.as_caller(
        app.demo.reception,
        Role::Reception,
        r#"mutation($id: ID!) { updateStudent(id: $id, input: { course: "BA History and Politics" }) { course } }"#,
        json!({ "id": id(app.demo.alice) }),
    )
    .await
    .assert_no_errors();
    read(&app).await;
    read(&app).await;
    let rows = records_in_chain_order(&app).await;
    let by: Vec<&str> = rows[audited..]
        .iter()
        .filter_map(|r| {
            if r.actor_id == app.demo.reception {
                Some("write")
            } else if r.basis.as_deref() == Some("role:practitioner") {
                Some("read")
            } else {
                None
            }
        })
        .collect();
    let mut runs = by.clone();
    runs.dedup();
    assert_eq!(runs, ["read", "write", "read"], "{by:?}");
    assert_eq!(by.iter().filter(|a| **a == "read").count(), 3, "{by:?}");
    assert_chain_verifies(&app, i64::try_from(rows.len()).expect("count")).await;
}

#[tokio::test]
async fn records_written_before_the_chain_are_chained_by_the_upgrade() {
    use migration::MigratorTrait;
    let app = spawn_app().await;
    let records = seeded(&app).await;
    // Back to a database from before the chain (its columns and head gone:
    // every migration from 000040 on rolled back), then upgraded: the upgrade
    // chains the records it finds, in time order.
    let names: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let chain = names
        .iter()
        .position(|n| n.contains("_000040_"))
        .expect("the chain migration");
    let since_chain = u32::try_from(names.len() - chain).expect("a few migrations");
    // Rolled back and upgraded on one connection of its own, as an operator's
    // `confide migrate` would. On the app's pool the up could land on a
    // SQLite connection whose cached schema predated the rollback: SQLite
    // checks ALTER TABLE ADD COLUMN against that cache while preparing, before
    // noticing the schema changed, and failed now and then with "duplicate
    // column name: seq". (Only DDL is checked that way; a statement that reads
    // or writes rows re-reads a changed schema before it runs.)
    let mut options = sea_orm::ConnectOptions::new(app.db_url.clone());
    options.max_connections(1).sqlx_logging(false);
    let migrator = sea_orm::Database::connect(options)
        .await
        .expect("a connection to migrate on");
    migration::Migrator::down(&migrator, Some(since_chain))
        .await
        .expect("roll back the chain");
    migration::Migrator::up(&migrator, None)
        .await
        .expect("upgrade");
    migrator.close().await.expect("close");
    assert_eq!(
        audit::verify(&app.db).await.expect("verify"),
        Verification::Verified { records }
    );
    // And the application extends it.
    read(&app).await;
    assert!(matches!(
        audit::verify(&app.db).await.expect("verify"),
        Verification::Verified { records: n } if n > records
    ));
}

const QUERY: &str = r#"query($student: ID, $basis: String, $before: Int) {
    auditEvents(studentId: $student, basis: $basis, beforeSeq: $before, limit: 50) {
        seq actorId actorRole studentId action categories outcome basis lawfulBasis
    }
}"#;

/// Issue 10: the DPO queries the trail by student and basis; a service lead
/// sees what the staff of their service did, and nothing else; nobody else
/// queries it.
#[tokio::test]
async fn the_dpo_queries_the_trail_and_a_service_lead_sees_only_their_services_staff() {
    let app = spawn_app().await;
    read(&app).await;
    // A read by a disability adviser (another service).
    app.as_caller(
        app.demo.disability_adviser,
        Role::Practitioner,
        READ,
        json!({ "id": id(app.demo.alice) }),
    )
    .await
    .assert_no_errors();
    let dpo = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            QUERY,
            json!({ "student": id(app.demo.alice), "basis": "role:practitioner" }),
        )
        .await;
    dpo.assert_no_errors();
    let rows = dpo.data()["auditEvents"].as_array().unwrap().clone();
    let actors: Vec<&str> = rows
        .iter()
        .map(|r| r["actorId"].as_str().unwrap())
        .collect();
    assert!(
        actors.contains(&id(app.demo.counsellor).as_str()),
        "{rows:#?}"
    );
    assert!(actors.contains(&id(app.demo.disability_adviser).as_str()));
    assert!(rows
        .iter()
        .all(|r| r["studentId"] == id(app.demo.alice).as_str()
            && r["basis"] == "role:practitioner"
            && r["lawfulBasis"].is_string()));
    // Newest first, by chain position; paging backwards.
    let seqs: Vec<i64> = rows.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    let older = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            QUERY,
            json!({ "student": id(app.demo.alice), "basis": "role:practitioner", "before": seqs[0] }),
        )
        .await;
    assert_eq!(
        older.data()["auditEvents"].as_array().unwrap().len(),
        rows.len() - 1
    );

    let lead = app
        .as_caller(
            app.demo.counselling_lead,
            Role::ServiceLead,
            QUERY,
            json!({}),
        )
        .await;
    lead.assert_no_errors();
    let rows = lead.data()["auditEvents"].as_array().unwrap().clone();
    assert!(rows
        .iter()
        .any(|r| r["actorId"] == id(app.demo.counsellor).as_str()));
    assert!(
        !rows
            .iter()
            .any(|r| r["actorId"] == id(app.demo.disability_adviser).as_str()),
        "another service's staff: {rows:#?}"
    );

    for (who, role) in [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.alice, Role::Student),
        (app.demo.nhs_trust, Role::Partner),
    ] {
        let res = app.as_caller(who, role, QUERY, json!({})).await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role:?}: {:#}", res.body);
    }
}

/// `--audit-commit-interval-ms`: under load, read-only requests' audit
/// records wait for the interval since the last commit and are written
/// together; a request that finds the writer idle longer is written at once.
/// Either way every record is written and the chain holds.
#[tokio::test]
async fn audit_commits_are_spaced_by_the_interval_and_an_idle_writer_writes_at_once() {
    let interval = std::time::Duration::from_millis(2_000);
    let app = crate::helpers::spawn_app_with(|s| {
        s.database.audit_commit_interval_ms = Some(2_000);
    })
    .await;
    let before = app.count("audit_event").await;
    // The writer has not committed yet: the first read is written at once.
    let waited = timed_read(&app).await;
    assert!(waited < interval, "the first read waited {waited:?}");
    // Right after a commit: the next reads wait for the interval, together.
    let started = std::time::Instant::now();
    futures_util::future::join_all((0..5).map(|_| read(&app))).await;
    assert!(
        started.elapsed() >= interval / 2,
        "reads right after a commit did not wait: {:?}",
        started.elapsed()
    );
    // Idle for longer than the interval: written at once again.
    tokio::time::sleep(interval + std::time::Duration::from_millis(200)).await;
    let waited = timed_read(&app).await;
    assert!(
        waited < interval,
        "a read after an idle writer waited {waited:?}"
    );
    let after = app.count("audit_event").await;
    assert!(after >= before + 7, "{before} -> {after}");
    assert_chain_verifies(&app, after).await;
}

/// The plan the database chooses for the audit query `filter` builds for the
/// DPO, as text. On PostgreSQL with sequential scans and sorts costed out of
/// reach, so that a test database of a few hundred records is planned as one
/// of millions would be: what is left is what the indexes can serve.
async fn dpo_audit_plan(app: &TestApp, filter: audit::AuditFilter) -> String {
    use sea_orm::{QueryTrait, Statement, TransactionTrait};
    // The caller the server makes of the demo DPO's token.
    let caller = confide::auth::load_caller(&app.db, app.demo.dpo, Role::Dpo)
        .await
        .unwrap()
        .expect("the demo DPO is an active member of staff");
    let backend = app.db.get_database_backend();
    let sql = audit::statement(&caller, filter, 100)
        .expect("the DPO queries the trail")
        .build(backend)
        .to_string();
    let txn = app.db.begin().await.unwrap();
    let explain = match backend {
        DbBackend::Postgres => {
            txn.execute_unprepared("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off")
                .await
                .unwrap();
            format!("EXPLAIN {sql}")
        }
        _ => format!("EXPLAIN QUERY PLAN {sql}"),
    };
    let rows = txn
        .query_all_raw(Statement::from_string(backend, explain))
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    let column = match backend {
        DbBackend::Postgres => "QUERY PLAN",
        _ => "detail",
    };
    rows.iter()
        .map(|r| r.try_get::<String>("", column).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_dpos_audit_queries_by_student_actor_and_outcome_read_an_index_in_seq_order() {
    let app = spawn_app().await;
    read(&app).await;
    let cases = [
        (
            audit::AuditFilter {
                student_id: Some(app.demo.alice),
                ..Default::default()
            },
            "idx_audit_student_seq",
        ),
        (
            audit::AuditFilter {
                actor_id: Some(app.demo.counsellor),
                ..Default::default()
            },
            "idx_audit_actor_seq",
        ),
        (
            audit::AuditFilter {
                outcome: Some("deny".into()),
                ..Default::default()
            },
            "idx_audit_not_allowed_seq",
        ),
        (
            audit::AuditFilter {
                outcome: Some("redact".into()),
                ..Default::default()
            },
            "idx_audit_not_allowed_seq",
        ),
    ];
    for (filter, index) in cases {
        let plan = dpo_audit_plan(&app, filter.clone()).await;
        assert!(
            plan.contains(index),
            "{filter:?} is not served by {index}:\n{plan}"
        );
        // No sort of every matching record before the first 100 are taken.
        assert!(
            !plan.contains("Sort") && !plan.contains("TEMP B-TREE"),
            "{filter:?} sorts:\n{plan}"
        );
    }
}

#[tokio::test]
async fn the_dpo_filtering_the_trail_by_outcome_gets_exactly_the_records_with_that_outcome() {
    let app = spawn_app().await;
    read(&app).await;
    // A department with Alice's consent to some categories: the others
    // (case notes, risk) are denied, and the trail records that.
    crate::fixtures::record_consent(
        &app,
        (app.demo.reception, Role::Reception),
        crate::fixtures::history_department_consent(&app),
    )
    .await;
    crate::fixtures::view(&app, (app.demo.history_department, Role::Department)).await;
    // Alice herself: her case notes are withheld (she asks for them by a
    // subject access request), a redaction on the trail.
    crate::fixtures::view(&app, (app.demo.alice, Role::Student)).await;
    const BY_OUTCOME: &str =
        r#"query($outcome: String) { auditEvents(outcome: $outcome, limit: 500) { seq outcome } }"#;
    for outcome in ["allow", "redact", "deny"] {
        let stored: Vec<i64> = entity::audit_event::Entity::find()
            .filter(entity::audit_event::Column::Outcome.eq(outcome))
            .order_by_desc(entity::audit_event::Column::Seq)
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| r.seq)
            .collect();
        assert!(!stored.is_empty(), "the fixture writes {outcome} records");
        let res = app
            .as_caller(
                app.demo.dpo,
                Role::Dpo,
                BY_OUTCOME,
                json!({ "outcome": outcome }),
            )
            .await;
        res.assert_no_errors();
        let served: Vec<i64> = res.data()["auditEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r["outcome"], outcome, "{r}");
                r["seq"].as_i64().unwrap()
            })
            .collect();
        assert_eq!(served, stored, "{outcome}");
    }
}
