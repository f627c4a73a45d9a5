//! Data subject rights (issue 10): restriction of processing and the
//! rectification history of a student's details.

use crate::fixtures::partner_consent;
use crate::helpers::spawn_app;
use crate::helpers::{id, Gql, TestApp};
use confide::domain::Role;
use serde_json::{json, Value};
use uuid::Uuid;

const RESTRICT: &str = r#"mutation($studentId: ID!, $reason: String!) {
    restrictProcessing(studentId: $studentId, reason: $reason) { id reason active studentNotifiedAt }
}"#;
const NOTIFIED: &str = r#"mutation($id: ID!, $at: DateTime!) {
    recordRestrictionNotified(id: $id, notifiedAt: $at) { id studentNotifiedAt }
}"#;
const LIFT: &str = r#"mutation($id: ID!, $reason: String!) {
    liftRestriction(id: $id, reason: $reason) { id active liftedAt liftReason }
}"#;

async fn restrict(app: &TestApp, by: (Uuid, Role)) -> Gql {
    app.as_caller(
        by.0,
        by.1,
        RESTRICT,
        json!({ "studentId": id(app.demo.alice), "reason": "The student contests the accuracy of her record." }),
    )
    .await
}

async fn restrict_as_dpo(app: &TestApp) -> String {
    let res = restrict(app, (app.demo.dpo, Role::Dpo)).await;
    res.assert_no_errors();
    assert_eq!(res.data()["restrictProcessing"]["active"], true);
    res.data()["restrictProcessing"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn notify(app: &TestApp, restriction: &str) -> Gql {
    app.as_caller(
        app.demo.dpo,
        Role::Dpo,
        NOTIFIED,
        json!({ "id": restriction, "at": chrono::Utc::now().to_rfc3339() }),
    )
    .await
}

async fn lift(app: &TestApp, restriction: &str) -> Gql {
    app.as_caller(
        app.demo.dpo,
        Role::Dpo,
        LIFT,
        json!({ "id": restriction, "reason": "Accuracy verified." }),
    )
    .await
}

const ROUTES: &str = r#"query($id: ID!, $case: ID!) {
    student(id: $id) { id name email cases { id summary notes { body } } }
    students(first: 50) { edges { node { id name email } } }
    supportCase(id: $case) { id summary status }
    supportCases(first: 50) { edges { node { id summary status } } }
}"#;

async fn routes(app: &TestApp, who: (Uuid, Role)) -> Gql {
    app.as_caller(
        who.0,
        who.1,
        ROUTES,
        json!({ "id": id(app.demo.alice), "case": id(app.demo.alice_counselling_case) }),
    )
    .await
}

fn alice_in<'v>(res: &'v Gql, root: &str, key: &str, alice: &str) -> Vec<(usize, &'v Value)> {
    res.data()[root]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .enumerate()
                .filter(|(_, e)| e["node"][key] == alice)
                .map(|(n, e)| (n, &e["node"]))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn restriction_redacts_on_every_route_for_a_practitioner_and_not_for_the_dpo() {
    let app = spawn_app().await;
    let alice = id(app.demo.alice);
    let counsellor = (app.demo.counsellor, Role::Practitioner);
    let before = routes(&app, counsellor).await;
    before.assert_no_errors();
    assert_eq!(before.data()["student"]["name"], "Alice Example");
    assert!(before.data()["supportCase"]["summary"].is_string());

    let restriction = restrict_as_dpo(&app).await;

    let res = routes(&app, counsellor).await;
    let redacted = |path: Value| res.redaction(path);
    assert!(res.data()["student"]["name"].is_null(), "{:#}", res.body);
    assert_eq!(
        redacted(json!(["student", "name"])).as_deref(),
        Some("PROCESSING_RESTRICTED")
    );
    assert_eq!(
        redacted(json!(["student", "email"])).as_deref(),
        Some("PROCESSING_RESTRICTED")
    );
    assert_eq!(
        redacted(json!(["student", "cases"])).as_deref(),
        Some("PROCESSING_RESTRICTED")
    );
    let listed = alice_in(&res, "students", "id", &alice);
    assert_eq!(listed.len(), 1, "{:#}", res.body);
    let (n, node) = listed[0];
    assert!(node["name"].is_null() && node["email"].is_null());
    assert_eq!(
        redacted(json!(["students", "edges", n, "node", "name"])).as_deref(),
        Some("PROCESSING_RESTRICTED")
    );
    assert!(res.data()["supportCase"]["summary"].is_null());
    assert_eq!(
        redacted(json!(["supportCase", "summary"])).as_deref(),
        Some("PROCESSING_RESTRICTED")
    );
    let all_cases: Vec<&Value> = res.data()["supportCases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    // Alice's case is listed with its summary redacted.
    let mut seen = false;
    for (n, edge) in all_cases.iter().enumerate() {
        if edge["node"]["id"] == id(app.demo.alice_counselling_case) {
            seen = true;
            assert!(edge["node"]["summary"].is_null(), "{:#}", res.body);
            assert_eq!(
                redacted(json!(["supportCases", "edges", n, "node", "summary"])).as_deref(),
                Some("PROCESSING_RESTRICTED")
            );
        }
    }
    assert!(seen, "{:#}", res.body);

    // The DPO still reads everything the DPO reads.
    let dpo = routes(&app, (app.demo.dpo, Role::Dpo)).await;
    dpo.assert_no_errors();
    assert_eq!(dpo.data()["student"]["name"], "Alice Example");
    assert!(dpo.data()["student"]["email"].is_string());
    assert!(dpo.data()["supportCase"]["summary"].is_string());
    let (_, node) = alice_in(&dpo, "students", "id", &alice)[0];
    assert_eq!(node["name"], "Alice Example");

    // Writes about the student are refused to the practitioner meanwhile.
    let write = app
        .as_caller(
            counsellor.0,
            counsellor.1,
            UPDATE,
            json!({ "id": alice, "input": { "phone": "07700 900999" } }),
        )
        .await;
    assert_eq!(write.codes(), vec!["FORBIDDEN"], "{:#}", write.body);
    assert_eq!(app.count("student_change").await, 0);

    // Lifting is refused until the student's notification is recorded.
    let early = lift(&app, &restriction).await;
    assert_eq!(early.codes(), vec!["CONFLICT"], "{:#}", early.body);
    notify(&app, &restriction).await.assert_no_errors();
    let lifted = lift(&app, &restriction).await;
    lifted.assert_no_errors();
    assert_eq!(lifted.data()["liftRestriction"]["active"], false);
    assert_eq!(
        lifted.data()["liftRestriction"]["liftReason"],
        "Accuracy verified."
    );

    // After lifting, the practitioner reads again.
    let after = routes(&app, counsellor).await;
    after.assert_no_errors();
    assert_eq!(after.data()["student"]["name"], "Alice Example");
    assert!(after.data()["supportCase"]["summary"].is_string());
}

#[tokio::test]
async fn while_restricted_a_partner_with_consent_finds_the_student_with_every_field_redacted_and_no_case(
) {
    let app = spawn_app().await;
    partner_consent(
        &app,
        app.demo.nhs_trust,
        json!(["IDENTITY", "CONTACT"]),
        None,
        json!([]),
    )
    .await;
    let partner = (app.demo.nhs_trust, Role::Partner);
    let before = routes(&app, partner).await;
    assert_eq!(
        before.data()["student"]["name"],
        "Alice Example",
        "{:#}",
        before.body
    );
    let email = before.data()["student"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    restrict_as_dpo(&app).await;
    let res = routes(&app, partner).await;
    res.assert_no_errors();
    // The existing policy (relation `restricted` for outside audiences): the
    // consented partner still finds the student row (its id), with every field
    // redacted PROCESSING_RESTRICTED; the student's cases are not reached at all.
    let s = &res.data()["student"];
    assert_eq!(s["id"], id(app.demo.alice).as_str(), "{:#}", res.body);
    for field in ["name", "email", "cases"] {
        assert!(s[field].is_null());
        assert_eq!(
            res.redaction(json!(["student", field])).as_deref(),
            Some("PROCESSING_RESTRICTED"),
            "{field}"
        );
    }
    let (n, _) = alice_in(&res, "students", "id", &id(app.demo.alice))[0];
    assert_eq!(
        res.redaction(json!(["students", "edges", n, "node", "name"]))
            .as_deref(),
        Some("PROCESSING_RESTRICTED")
    );
    assert!(res.data()["supportCase"].is_null());
    assert_eq!(res.data()["supportCases"]["edges"], json!([]));
    let text = res.body.to_string();
    assert!(!text.contains("Alice Example"), "{text}");
    assert!(!text.contains(&email), "{text}");
    // A partner without a consent does not find the student at all.
    let other = routes(&app, (app.demo.landlord_b, Role::Partner)).await;
    other.assert_no_errors();
    assert!(other.data()["student"].is_null(), "{:#}", other.body);
    assert!(alice_in(&other, "students", "id", &id(app.demo.alice)).is_empty());
}

#[tokio::test]
async fn only_the_dpo_restricts_and_a_second_restriction_conflicts() {
    let app = spawn_app().await;
    for who in [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.counselling_lead, Role::ServiceLead),
        (app.demo.alice, Role::Student),
        (app.demo.admin, Role::Admin),
    ] {
        let res = restrict(&app, who).await;
        assert_eq!(
            res.codes(),
            vec!["FORBIDDEN"],
            "{:?}: {:#}",
            who.1,
            res.body
        );
    }
    assert_eq!(app.count("restriction").await, 0);
    let restriction = restrict_as_dpo(&app).await;
    let again = restrict(&app, (app.demo.dpo, Role::Dpo)).await;
    assert_eq!(again.codes(), vec!["CONFLICT"], "{:#}", again.body);
    // A notification in the future is refused; recorded once only.
    let future = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            NOTIFIED,
            json!({ "id": restriction, "at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339() }),
        )
        .await;
    assert_eq!(future.codes(), vec!["BAD_USER_INPUT"], "{:#}", future.body);
    notify(&app, &restriction).await.assert_no_errors();
    let twice = notify(&app, &restriction).await;
    assert_eq!(twice.codes(), vec!["CONFLICT"]);
    lift(&app, &restriction).await.assert_no_errors();
    let again = lift(&app, &restriction).await;
    assert_eq!(again.codes(), vec!["CONFLICT"]);
    // Each step is audited.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let events = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::StudentId.eq(app.demo.alice))
        .filter(entity::audit_event::Column::ActorId.eq(app.demo.dpo))
        .all(&app.db)
        .await
        .unwrap();
    for action in [
        "processing_restricted",
        "restriction_notified",
        "restriction_lifted",
    ] {
        assert!(
            events.iter().any(|e| e.action == action),
            "{action} audited: {events:#?}"
        );
    }
}

#[tokio::test]
async fn the_student_and_the_dpo_read_the_restrictions_and_a_practitioner_does_not() {
    let app = spawn_app().await;
    let restriction = restrict_as_dpo(&app).await;
    let q = r#"query($id: ID!) { student(id: $id) { restrictions { id reason active } } }"#;
    for who in [(app.demo.alice, Role::Student), (app.demo.dpo, Role::Dpo)] {
        let res = app
            .as_caller(who.0, who.1, q, json!({ "id": id(app.demo.alice) }))
            .await;
        res.assert_no_errors();
        assert_eq!(
            res.data()["student"]["restrictions"][0]["id"],
            restriction.as_str()
        );
        assert_eq!(res.data()["student"]["restrictions"][0]["active"], true);
    }
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            q,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    assert!(
        res.data()["student"]["restrictions"].is_null(),
        "{:#}",
        res.body
    );
}

const UPDATE: &str = r#"mutation($id: ID!, $input: UpdateStudentInput!, $reason: String) {
    updateStudent(id: $id, input: $input, reason: $reason) { id email }
}"#;

const HISTORY: &str = r#"query($id: ID!) { student(id: $id) { changeHistory {
    field category oldValue newValue changedBy changedByRole changedAt reason notify { id role }
} } }"#;

#[tokio::test]
async fn an_update_of_a_students_details_keeps_the_old_value_in_the_history() {
    let app = spawn_app().await;
    // A partner receives Alice's email under her consent, then it is corrected.
    partner_consent(
        &app,
        app.demo.nhs_trust,
        json!(["CONTACT"]),
        None,
        json!([]),
    )
    .await;
    let read = app
        .as_caller(
            app.demo.nhs_trust,
            Role::Partner,
            r#"query($id: ID!) { student(id: $id) { email } }"#,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    read.assert_no_errors();
    let old_email = read.data()["student"]["email"].as_str().unwrap().to_owned();
    // A partner that never received it is not listed.
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            UPDATE,
            json!({
                "id": id(app.demo.alice),
                "input": { "email": "alice.new@uni.example", "course": "BA History" },
                "reason": "The student asked for her email to be corrected."
            }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(
        res.data()["updateStudent"]["email"],
        "alice.new@uni.example"
    );

    let history = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            HISTORY,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    history.assert_no_errors();
    let entries = history.data()["student"]["changeHistory"]
        .as_array()
        .unwrap();
    // Only fields whose value changed (the course was set to what it was).
    assert_eq!(entries.len(), 1, "{:#}", history.body);
    let e = &entries[0];
    assert_eq!(e["field"], "email");
    assert_eq!(e["category"], "CONTACT");
    assert_eq!(e["oldValue"], old_email.as_str());
    assert_eq!(e["newValue"], "alice.new@uni.example");
    assert_eq!(e["changedBy"], id(app.demo.counsellor));
    assert_eq!(e["changedByRole"], "practitioner");
    assert_eq!(
        e["reason"],
        "The student asked for her email to be corrected."
    );
    assert_eq!(
        e["notify"],
        json!([{ "id": id(app.demo.nhs_trust), "role": "partner" }]),
        "the partner that received the old email under consent is to be notified"
    );

    // The student reads her own history.
    let own = app
        .as_caller(
            app.demo.alice,
            Role::Student,
            HISTORY,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    own.assert_no_errors();
    assert_eq!(
        own.data()["student"]["changeHistory"][0]["oldValue"],
        old_email.as_str()
    );

    // A practitioner (who made the change) does not.
    let practitioner = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            HISTORY,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    assert!(
        practitioner.data()["student"]["changeHistory"].is_null(),
        "{:#}",
        practitioner.body
    );
    assert!(!practitioner.body.to_string().contains(&old_email));

    // The change is audited, without the values.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let events = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Action.eq("rectification"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].student_id, Some(app.demo.alice));
    assert!(!events[0]
        .detail
        .clone()
        .unwrap_or_default()
        .contains(&old_email));
}

#[tokio::test]
async fn an_update_that_changes_nothing_writes_no_history() {
    let app = spawn_app().await;
    let current = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            r#"query($id: ID!) { student(id: $id) { email } }"#,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    let email = current.data()["student"]["email"].clone();
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            UPDATE,
            json!({ "id": id(app.demo.alice), "input": { "email": email } }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(app.count("student_change").await, 0);
}
