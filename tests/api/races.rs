//! Writes that race: of two callers changing the same record at once, exactly
//! one succeeds and the other gets CONFLICT (never INTERNAL, never a silent
//! last-writer-wins), on SQLite and PostgreSQL. And a write is stored with its
//! audit record or not at all.

use crate::fixtures::{consent_id, exception_input, record_consent, CONFIRM, PROPOSE};
use crate::helpers::{id, spawn_app, Gql, TestApp};
use confide::domain::Role;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{json, Value};
use uuid::Uuid;

/// Sends two requests at once and returns both answers.
async fn twice(
    app: &TestApp,
    a: (Uuid, Role),
    b: (Uuid, Role),
    query: &str,
    vars: Value,
) -> [Gql; 2] {
    let (x, y) = tokio::join!(
        app.as_caller(a.0, a.1, query, vars.clone()),
        app.as_caller(b.0, b.1, query, vars.clone())
    );
    [x, y]
}

/// Exactly one answer succeeded and the other is CONFLICT.
fn one_wins(answers: &[Gql; 2]) {
    let codes: Vec<Vec<String>> = answers.iter().map(Gql::codes).collect();
    let wins = codes.iter().filter(|c| c.is_empty()).count();
    let conflicts = codes
        .iter()
        .filter(|c| *c == &vec!["CONFLICT".to_owned()])
        .count();
    assert_eq!(
        (wins, conflicts),
        (1, 1),
        "{codes:?}: {:#} {:#}",
        answers[0].body,
        answers[1].body
    );
}

async fn proposed(app: &TestApp) -> String {
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            PROPOSE,
            json!({ "input": exception_input(app) }),
        )
        .await;
    res.assert_no_errors();
    res.data()["proposeRiskException"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn two_professionals_confirming_the_same_exception_one_succeeds_one_conflicts() {
    let app = spawn_app().await;
    let exception = proposed(&app).await;
    // Two different registered professionals, neither the proposer.
    let answers = twice(
        &app,
        (app.demo.mental_health_adviser, Role::Practitioner),
        (app.demo.counselling_lead, Role::ServiceLead),
        CONFIRM,
        json!({ "id": exception }),
    )
    .await;
    // The service lead of the demo is registered too.
    one_wins(&answers);
    let winner = answers.iter().find(|a| a.codes().is_empty()).unwrap();
    let confirmed_by = winner.data()["confirmRiskException"]["confirmedBy"].clone();
    let stored = entity::risk_exception::Entity::find_by_id(Uuid::parse_str(&exception).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .confirmed_by
        .unwrap();
    assert_eq!(
        json!(stored.to_string()),
        confirmed_by,
        "the stored confirmer is the one told it succeeded"
    );
}

#[tokio::test]
async fn a_double_submitted_withdrawal_one_succeeds_one_conflicts() {
    let app = spawn_app().await;
    let consent = consent_id(
        &record_consent(
            &app,
            (app.demo.alice, Role::Student),
            json!({
                "studentId": id(app.demo.alice),
                "recipient": { "kind": "PARTNER", "reference": id(app.demo.nhs_trust) },
                "categories": ["IDENTITY"],
                "purpose": "Race."
            }),
        )
        .await,
    );
    let alice = (app.demo.alice, Role::Student);
    let answers = twice(
        &app,
        alice,
        alice,
        r#"mutation($id: ID!) { withdrawConsent(id: $id, reason: "twice") { id withdrawnAt } }"#,
        json!({ "id": consent }),
    )
    .await;
    one_wins(&answers);
}

#[tokio::test]
async fn revoking_or_closing_twice_at_once_one_succeeds_one_conflicts() {
    let app = spawn_app().await;
    let exception = proposed(&app).await;
    let lead = (app.demo.counselling_lead, Role::ServiceLead);
    let answers = twice(
        &app,
        lead,
        (app.demo.dpo, Role::Dpo),
        r#"mutation($id: ID!) { revokeRiskException(id: $id) { id } }"#,
        json!({ "id": exception }),
    )
    .await;
    one_wins(&answers);

    let counsellor = (app.demo.counsellor, Role::Practitioner);
    let answers = twice(
        &app,
        counsellor,
        lead,
        r#"mutation($id: ID!) { closeCase(caseId: $id) { id status } }"#,
        json!({ "id": id(app.demo.alice_counselling_case) }),
    )
    .await;
    one_wins(&answers);
}

#[tokio::test]
async fn two_assignments_of_one_case_at_once_one_succeeds_one_conflicts() {
    let app = spawn_app().await;
    let lead = (app.demo.counselling_lead, Role::ServiceLead);
    let assign = r#"mutation($c: ID!, $s: ID!) { assignCase(caseId: $c, staffId: $s) { id } }"#;
    // Unlike a second close or withdrawal, a second assignment that begins
    // after the first has finished is an ordinary reassignment, so the two
    // must truly overlap: on a busy machine `join!` alone does not promise it.
    let (x, y) = app.while_writes_are_held(async {
        tokio::join!(
            app.as_caller(
                lead.0,
                lead.1,
                assign,
                json!({ "c": id(app.demo.alice_counselling_case), "s": id(app.demo.counsellor) })
            ),
            app.as_caller(
                lead.0,
                lead.1,
                assign,
                json!({ "c": id(app.demo.alice_counselling_case), "s": id(app.demo.counselling_lead) })
            )
        )
    })
    .await;
    one_wins(&[x, y]);
}

#[tokio::test]
async fn a_duplicate_student_number_under_a_race_is_conflict() {
    let app = spawn_app().await;
    let create = r#"mutation($input: CreateStudentInput!) { createStudent(input: $input) { id } }"#;
    let input = |email: &str| json!({ "input": { "studentNumber": "S7777777", "name": "Race", "email": email, "department": "history", "course": "BA" } });
    let reception = (app.demo.reception, Role::Reception);
    let (x, y) = tokio::join!(
        app.as_caller(reception.0, reception.1, create, input("a@uni.example")),
        app.as_caller(reception.0, reception.1, create, input("b@uni.example"))
    );
    one_wins(&[x, y]);
}

#[tokio::test]
async fn concurrent_writes_and_audited_reads_all_succeed() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let app = &app;
        tasks.push(async move {
            if i % 2 == 0 {
                app.as_caller(
                    app.demo.counsellor,
                    Role::Practitioner,
                    r#"mutation($input: AddNoteInput!) { addNote(input: $input) { id } }"#,
                    json!({ "input": { "caseId": id(app.demo.alice_counselling_case), "kind": "ACTION", "body": format!("note {i}") } }),
                )
                .await
            } else {
                app.as_caller(
                    app.demo.counsellor,
                    Role::Practitioner,
                    r#"{ supportCases(first: 10) { edges { node { notes { body } } } } }"#,
                    json!({}),
                )
                .await
            }
        });
    }
    let before = app.count("note").await;
    for res in futures_util::future::join_all(tasks).await {
        res.assert_no_errors();
    }
    assert_eq!(app.count("note").await, before + 6);
}

#[tokio::test]
async fn a_write_whose_audit_record_cannot_be_written_is_not_stored() {
    let app = spawn_app().await;
    let before = app.count("note").await;
    app.db
        .execute_unprepared("DROP TABLE audit_event")
        .await
        .unwrap();
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            r#"mutation($input: AddNoteInput!) { addNote(input: $input) { id body } }"#,
            json!({ "input": { "caseId": id(app.demo.alice_counselling_case), "kind": "ACTION", "body": "Unaudited." } }),
        )
        .await;
    assert_eq!(res.codes(), vec!["INTERNAL"]);
    assert!(!res.body.to_string().contains("Unaudited."));
    assert_eq!(
        app.count("note").await,
        before,
        "the write was rolled back with its audit record"
    );
}

#[tokio::test]
async fn an_audit_of_thousands_of_records_is_written_in_chunks() {
    let app = spawn_app().await;
    let caller = confide::auth::load_caller(&app.db, app.demo.dpo, Role::Dpo)
        .await
        .unwrap()
        .unwrap();
    let events: Vec<_> = (0..3000)
        .map(|i| confide::service::audit::Event {
            student_id: Some(app.demo.alice),
            action: "read",
            fields: vec![format!("F{i}")],
            outcome: "allow",
            basis: Some("role:dpo".into()),
            detail: None,
        })
        .collect();
    let before = app.count("audit_event").await;
    confide::service::audit::write(&app.db, &caller, None, events)
        .await
        .unwrap();
    assert_eq!(app.count("audit_event").await, before + 3000);
}

/// A query that reads and writes (statistics record what they released, in a
/// write transaction) while its other fields read through the pool. On SQLite
/// writers queue for one lock, each holding a connection: with more such
/// queries at once than the pool had connections, the writer whose turn it was
/// waited for a connection for its read until the acquire timeout (10 s, then
/// INTERNAL). Every one must answer (`db::WriterLicences`).
#[tokio::test]
async fn more_queries_reading_and_writing_at_once_than_connections_all_complete() {
    let app = spawn_app().await;
    let query = r#"{
        supportCases(first: 5) { edges { node { id notes { body } } } }
        statistics(measure: CASES, groupBy: [SERVICE]) { total { count } }
    }"#;
    let lead = (app.demo.counselling_lead, Role::ServiceLead);
    let tasks = (0..24).map(|_| app.as_caller(lead.0, lead.1, query, json!({})));
    let answers = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        futures_util::future::join_all(tasks),
    )
    .await
    .expect("24 queries at once completed within a minute");
    for res in &answers {
        res.assert_no_errors();
        assert!(
            !res.data()["supportCases"]["edges"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{:#}",
            res.body
        );
        assert!(
            res.data()["statistics"]["total"].is_object(),
            "{:#}",
            res.body
        );
    }
}
