//! Admission by cost (issue 13): the requests executing at once share an
//! in-flight cost budget; a request without room waits in line, and one that
//! cannot start within the admission wait is answered SERVER_BUSY (503 with
//! Retry-After) before anything of it runs.
//!
//! A request is kept running (holding its share) by the test's own connection
//! holding the database's write lock: a request that writes (a note added)
//! holds its share until its write commits with its audit record, which
//! cannot happen while the lock is held. A read-only request gives its share
//! back once it has executed, before it waits for its audit record's commit.

use crate::helpers::{spawn_app_with, Gql, TestApp};
use confide::domain::Role;
use serde_json::json;
use std::time::Duration;

const CASES: &str = "{ supportCases(first: 5) { edges { node { id service } } } }";

/// Posts the dashboard query as the demo counsellor: the answer, its
/// Retry-After header and its request id.
async fn dashboard(app: &TestApp) -> (Gql, Option<String>, String) {
    post(app, json!({ "query": CASES })).await
}

/// Adds a note to a case as the demo counsellor (a request that writes).
async fn add_note(app: &TestApp) -> (Gql, Option<String>, String) {
    post(
        app,
        json!({
            "query": "mutation($input: AddNoteInput!) { addNote(input: $input) { id } }",
            "variables": { "input": {
                "caseId": app.demo.alice_counselling_case.to_string(),
                "kind": "ACTION",
                "body": "Held.",
            } },
        }),
    )
    .await
}

/// Posts a request as the demo counsellor: the answer, its Retry-After header
/// and its request id.
async fn post(app: &TestApp, body: serde_json::Value) -> (Gql, Option<String>, String) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(app.token(app.demo.counsellor, Role::Practitioner))
        .json(&body)
        .send()
        .await
        .expect("request");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after = header("retry-after");
    let request_id = header("x-request-id").expect("a request id on every answer");
    let status = response.status().as_u16();
    let body = response.json().await.expect("json body");
    (Gql { status, body }, retry_after, request_id)
}

async fn audit_records_of(app: &TestApp, request_id: &str) -> i64 {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let id: uuid::Uuid = request_id.parse().expect("a UUID request id");
    entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::RequestId.eq(id))
        .count(&app.db)
        .await
        .expect("count audit records") as i64
}

#[tokio::test]
async fn a_request_without_room_in_the_in_flight_budget_is_server_busy_and_nothing_of_it_runs() {
    // A budget of 1: any request takes all of it while it runs.
    let app = spawn_app_with(|s| {
        s.max_cost_in_flight = 1;
        s.admission_wait_ms = 150;
    })
    .await;
    let (running, refused) = app
        .while_writes_are_held(async {
            let running = add_note(&app);
            let refused = async {
                // The first request has started (and waits for the lock).
                tokio::time::sleep(Duration::from_millis(250)).await;
                dashboard(&app).await
            };
            tokio::join!(running, refused)
        })
        .await;
    let (running, _, running_id) = running;
    running.assert_no_errors();
    assert!(audit_records_of(&app, &running_id).await > 0);

    let (refused, retry_after, refused_id) = refused;
    assert_eq!(refused.status, 503, "{:#}", refused.body);
    assert_eq!(refused.codes(), vec!["SERVER_BUSY"], "{:#}", refused.body);
    assert!(refused.body["data"].is_null());
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(
        refused.body["errors"][0]["extensions"]["retryAfterSeconds"].as_u64(),
        Some(1)
    );
    // Nothing of it ran: it read nothing, so it left no audit record.
    assert_eq!(audit_records_of(&app, &refused_id).await, 0);

    // The budget was given back: the next request runs.
    let (after, _, _) = dashboard(&app).await;
    after.assert_no_errors();
}

#[tokio::test]
async fn a_request_without_room_waits_in_line_and_runs_when_the_budget_is_released() {
    let app = spawn_app_with(|s| {
        s.max_cost_in_flight = 1;
        s.admission_wait_ms = 10_000;
    })
    .await;
    let (first, second) = app
        .while_writes_are_held(async {
            let first = async {
                let answer = add_note(&app).await;
                (answer, std::time::Instant::now())
            };
            let second = async {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let answer = dashboard(&app).await;
                (answer, std::time::Instant::now())
            };
            tokio::join!(first, second)
        })
        .await;
    let ((first, _, _), first_done) = first;
    let ((second, _, _), second_done) = second;
    first.assert_no_errors();
    second.assert_no_errors();
    let (alone, _, _) = dashboard(&app).await;
    assert_eq!(
        alone.body["data"], second.body["data"],
        "the queued request got the answer it gets alone"
    );
    assert!(
        second_done >= first_done,
        "the queued request answered before the one holding the budget"
    );
}

#[tokio::test]
async fn a_read_only_request_gives_back_its_share_before_waiting_for_its_audit_commit() {
    // A budget of 1 and a wait in line shorter than the lock is held: the
    // second dashboard is admitted only if the first gave its share back
    // while its audit record still waited for the lock.
    let app = spawn_app_with(|s| {
        s.max_cost_in_flight = 1;
        s.admission_wait_ms = 150;
    })
    .await;
    let started = std::time::Instant::now();
    let timed = |answer| (answer, started.elapsed());
    let (first, second) = app
        .while_writes_are_held(async {
            let second = async {
                tokio::time::sleep(Duration::from_millis(250)).await;
                timed(dashboard(&app).await)
            };
            tokio::join!(async { timed(dashboard(&app).await) }, second)
        })
        .await;
    for ((answer, _, request_id), answered_after) in [first, second] {
        answer.assert_no_errors();
        // Neither answered before its audit record could be written (the
        // lock is held for 800 ms), and each has its record.
        assert!(
            answered_after >= Duration::from_millis(700),
            "answered after {answered_after:?}, before its audit record"
        );
        assert!(audit_records_of(&app, &request_id).await > 0);
    }
}

#[tokio::test]
async fn requests_waiting_on_their_audit_commit_are_bounded_too() {
    // A budget of 1: one dashboard waiting on its audit commit fills the
    // budget for waiting; the next executes, then keeps its executing share
    // while it waits for room there; so a third is answered SERVER_BUSY.
    let app = spawn_app_with(|s| {
        s.max_cost_in_flight = 1;
        s.admission_wait_ms = 150;
    })
    .await;
    let after = |ms| tokio::time::sleep(Duration::from_millis(ms));
    let (first, second, third) = app
        .while_writes_are_held(async {
            tokio::join!(
                dashboard(&app),
                async {
                    after(200).await;
                    dashboard(&app).await
                },
                async {
                    after(400).await;
                    dashboard(&app).await
                }
            )
        })
        .await;
    first.0.assert_no_errors();
    second.0.assert_no_errors();
    let (third, _, third_id) = third;
    assert_eq!(third.codes(), vec!["SERVER_BUSY"], "{:#}", third.body);
    assert_eq!(audit_records_of(&app, &third_id).await, 0);
}

#[tokio::test]
async fn a_request_waiting_in_line_shows_on_the_admission_gauges() {
    use crate::observability::{sample, scrape};
    let app = spawn_app_with(|s| {
        s.max_cost_in_flight = 1;
        s.admission_wait_ms = 10_000;
        s.edge.admin_bind = Some("127.0.0.1:0".to_owned());
    })
    .await;
    let (first, second, metrics) = app
        .while_writes_are_held(async {
            let second = async {
                tokio::time::sleep(Duration::from_millis(250)).await;
                dashboard(&app).await
            };
            let metrics = async {
                // One request holds the budget, the other waits in line.
                tokio::time::sleep(Duration::from_millis(500)).await;
                scrape(&app).await
            };
            tokio::join!(add_note(&app), second, metrics)
        })
        .await;
    first.0.assert_no_errors();
    second.0.assert_no_errors();
    // Process-wide gauges (other tests' servers run in this process too), so
    // at least this server's own request in each state.
    let gauge = |state| sample(&metrics, "confide_admission", &[("state", state)]);
    assert!(gauge("waiting") >= 1.0, "{metrics}");
    assert!(gauge("in_flight_cost") >= 1.0, "{metrics}");
    assert!(
        metrics.contains("confide_admission{state=\"budget\"}"),
        "{metrics}"
    );
}
