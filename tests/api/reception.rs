//! A reception caller cannot obtain a note body by any path.

use crate::helpers::{id, spawn_app, Gql, TestApp};
use confide::domain::Role;
use serde_json::json;

const BODIES: &[&str] = &[
    "low mood",
    "sexual health",
    "exam arrangements",
    "safety plan",
    "accessibility",
    "family",
];

fn assert_no_note_text(res: &Gql) {
    let text = res.body.to_string().to_lowercase();
    for body in BODIES {
        assert!(!text.contains(body), "note text {body:?} leaked: {text}");
    }
}

async fn reception(app: &TestApp, query: &str) -> Gql {
    app.as_caller(
        app.demo.reception,
        Role::Reception,
        query,
        json!({ "case": id(app.demo.alice_counselling_case), "student": id(app.demo.alice) }),
    )
    .await
}

#[tokio::test]
async fn reception_cannot_read_note_bodies_through_the_field() {
    let app = spawn_app().await;
    let res = reception(
        &app,
        r#"query($case: ID!) { supportCase(id: $case) { id notes { body } } }"#,
    )
    .await;
    assert_no_note_text(&res);
    assert!(res.data()["supportCase"]["notes"].is_null());
    assert_eq!(
        res.error_at(json!(["supportCase", "notes"])).as_deref(),
        Some("FORBIDDEN")
    );
    assert_eq!(
        res.data()["supportCase"]["id"],
        id(app.demo.alice_counselling_case)
    );
}

#[tokio::test]
async fn reception_cannot_read_note_bodies_through_an_alias() {
    let app = spawn_app().await;
    let res = reception(
        &app,
        r#"query($case: ID!) { supportCase(id: $case) { appointments: notes { text: body } } }"#,
    )
    .await;
    assert_no_note_text(&res);
    assert_eq!(
        res.error_at(json!(["supportCase", "appointments"]))
            .as_deref(),
        Some("FORBIDDEN")
    );
}

#[tokio::test]
async fn reception_cannot_read_note_bodies_through_fragments() {
    let app = spawn_app().await;
    let res = reception(
        &app,
        r#"query($case: ID!) {
            supportCase(id: $case) { ...CaseNotes ... on SupportCase { inline: notes { body } } }
        }
        fragment CaseNotes on SupportCase { notes { ...NoteBody } }
        fragment NoteBody on Note { body labels }"#,
    )
    .await;
    assert_no_note_text(&res);
    assert!(res.codes().iter().all(|c| c == "FORBIDDEN"));
    assert_eq!(res.codes().len(), 2);
}

#[tokio::test]
async fn reception_cannot_read_note_bodies_through_the_student_or_lists() {
    let app = spawn_app().await;
    let res = reception(
        &app,
        r#"query($student: ID!) {
            student(id: $student) { cases { notes { body } } }
            students(first: 10) { edges { node { cases { notes { body } } } } }
            supportCases(first: 10) { edges { node { notes { body } student { cases { notes { body } } } } } }
        }"#,
    )
    .await;
    assert_no_note_text(&res);
    assert!(!res.errors().is_empty());
    assert!(res.codes().iter().all(|c| c == "FORBIDDEN"));
}

#[tokio::test]
async fn reception_cannot_probe_note_bodies_with_a_filter() {
    let app = spawn_app().await;
    let res = reception(&app, r#"{ supportCases(filter: { noteContains: "sexual" }) { totalCount edges { node { id } } } }"#).await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    // The refused field is present as null (never dropped), and holds nothing.
    assert_eq!(res.data(), &json!({ "supportCases": null }));
}

#[tokio::test]
async fn reception_cannot_sort_by_risk_it_cannot_read() {
    let app = spawn_app().await;
    let res = reception(
        &app,
        r#"{ supportCases(orderBy: RISK_LEVEL_DESC) { edges { node { id } } } }"#,
    )
    .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    let res = reception(
        &app,
        r#"{ supportCases(filter: { riskLevel: HIGH }) { totalCount } }"#,
    )
    .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
}
