//! Storage faults on SQLite: while the database cannot take a write (here
//! another process holds its write lock), writes are refused and nothing is
//! acknowledged that is not stored, reads fail closed (their audit record cannot
//! be written), `/readyz` answers 503; once it can again, everything works
//! without a restart and no pooled connection is left inside a transaction.

use crate::helpers::{id, spawn_app_with};
use confide::domain::Role;
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

const ADD_NOTE: &str = r#"mutation($input: AddNoteInput!) { addNote(input: $input) { id } }"#;

#[tokio::test]
async fn while_sqlite_cannot_take_a_write_nothing_is_acknowledged_and_it_recovers_without_a_restart(
) {
    if std::env::var("CONFIDE_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        return; // SQLite's failure mode; PostgreSQL is covered by the race tests.
    }
    let app = spawn_app_with(|s| s.database.busy_timeout_ms = Some(200)).await;
    let note = |body: &str| json!({ "input": { "caseId": id(app.demo.alice_counselling_case), "kind": "ACTION", "body": body } });
    let ready = || async {
        app.client
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready().await, 200);
    let before = app.count("note").await;

    // Another process takes the write lock and keeps it.
    let other = Database::connect(&app.db_url).await.unwrap();
    other.execute_unprepared("BEGIN EXCLUSIVE").await.unwrap();

    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            ADD_NOTE,
            note("During the fault."),
        )
        .await;
    assert_eq!(res.codes(), vec!["INTERNAL"], "{:#}", res.body);
    assert!(!res.body.to_string().contains("During the fault."));
    assert_eq!(ready().await, 503);

    other.execute_unprepared("ROLLBACK").await.unwrap();
    other.close().await.unwrap();

    // Recovered: ready again, and every later write is stored (none lands on a
    // connection left inside a transaction).
    assert_eq!(ready().await, 200);
    for i in 0..12 {
        let res = app
            .as_caller(
                app.demo.counsellor,
                Role::Practitioner,
                ADD_NOTE,
                note(&format!("After {i}.")),
            )
            .await;
        res.assert_no_errors();
    }
    assert_eq!(
        app.count("note").await,
        before + 12,
        "the write during the fault was not stored"
    );
}
