//! Legal disclosures: a court order or statutory duty recorded by the DPO
//! releases exactly its scope to the partner it names, audited against it.

use crate::helpers::{id, spawn_app, Gql, TestApp};
use confide::domain::Role;
use serde_json::{json, Value};

const RECORD: &str = r#"mutation($input: RecordLegalAuthorityInput!) {
    recordLegalAuthority(input: $input) { id kind reference categories active studentInformedAt informForbidden }
}"#;

fn order(app: &TestApp, categories: Value) -> Value {
    json!({
        "studentId": id(app.demo.alice),
        "kind": "COURT_ORDER",
        "reference": "Case 2026/0412",
        "issuer": "Hometown County Court",
        "recipient": { "kind": "PARTNER", "reference": id(app.demo.nhs_trust) },
        "categories": categories,
        "expiresAt": (chrono::Utc::now() + chrono::Duration::days(14)).to_rfc3339()
    })
}

async fn record(app: &TestApp, by: (uuid::Uuid, Role), input: Value) -> Gql {
    app.as_caller(by.0, by.1, RECORD, json!({ "input": input }))
        .await
}

async fn record_as_dpo(app: &TestApp, input: Value) -> String {
    let res = record(app, (app.demo.dpo, Role::Dpo), input).await;
    res.assert_no_errors();
    res.data()["recordLegalAuthority"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

const READ: &str = r#"query($id: ID!) { student(id: $id) {
    name email dateOfBirth
    cases { id service adjustments riskLevel notes { body } thirdPartyEntries { body } }
    legalAuthorities { id reference }
} }"#;

async fn read(app: &TestApp, partner: uuid::Uuid) -> Gql {
    app.as_caller(
        partner,
        Role::Partner,
        READ,
        json!({ "id": id(app.demo.alice) }),
    )
    .await
}

#[tokio::test]
async fn a_court_order_releases_exactly_its_scope_to_the_named_partner_notes_included() {
    let app = spawn_app().await;
    let authority = record_as_dpo(
        &app,
        order(
            &app,
            json!(["IDENTITY", "SUPPORT_SUMMARY", "CASE_NOTES", "THIRD_PARTY"]),
        ),
    )
    .await;
    let res = read(&app, app.demo.nhs_trust).await;
    let s = &res.data()["student"];
    assert_eq!(s["name"], "Alice Example", "{:#}", res.body);
    assert!(s["email"].is_null());
    assert_eq!(
        res.redaction(json!(["student", "email"])).as_deref(),
        Some("CONSENT_REQUIRED")
    );
    assert!(s["dateOfBirth"].is_null());
    let cases = s["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    let notes: Vec<&Value> = cases
        .iter()
        .flat_map(|c| c["notes"].as_array().unwrap())
        .collect();
    assert!(!notes.is_empty(), "case notes are in scope: {:#}", res.body);
    assert!(notes.iter().all(|n| n["body"].is_string()));
    let third: Vec<&Value> = cases
        .iter()
        .flat_map(|c| c["thirdPartyEntries"].as_array().unwrap())
        .collect();
    assert_eq!(third.len(), 1, "third-party entries as ordered");
    assert!(third[0]["body"].is_string());
    // Adjustments and risk are not in scope.
    assert!(cases
        .iter()
        .all(|c| c["adjustments"].is_null() && c["riskLevel"].is_null()));
    // The partner sees the authority it receives under.
    assert_eq!(s["legalAuthorities"][0]["id"], authority.as_str());

    // Every release is audited against the authority.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let events = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::ActorId.eq(app.demo.nhs_trust))
        .all(&app.db)
        .await
        .unwrap();
    let basis = format!("legal_authority:{authority}");
    assert!(
        events
            .iter()
            .any(|e| e.basis.as_deref().is_some_and(|b| b.contains(&basis))
                && e.fields.to_string().contains("CASE_NOTES")),
        "the notes' release names the authority: {events:#?}"
    );

    // A partner without it gets nothing.
    let other = read(&app, app.demo.landlord_b).await;
    other.assert_no_errors();
    assert!(other.data()["student"].is_null());
}

#[tokio::test]
async fn a_case_scoped_order_opens_that_case_only() {
    let app = spawn_app().await;
    let mut input = order(&app, json!(["SUPPORT_SUMMARY", "CASE_NOTES"]));
    input["caseId"] = json!(id(app.demo.alice_mental_health_case));
    record_as_dpo(&app, input).await;
    let res = read(&app, app.demo.nhs_trust).await;
    let cases = res.data()["student"]["cases"].as_array().unwrap().clone();
    let ids: Vec<&str> = cases.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![id(app.demo.alice_mental_health_case)]);
    assert!(
        res.data()["student"]["name"].is_null(),
        "IDENTITY not in scope"
    );
}

#[tokio::test]
async fn only_the_dpo_records_a_legal_authority_and_nothing_is_written_otherwise() {
    let app = spawn_app().await;
    let before = app.count("legal_authority").await;
    for who in [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.counselling_lead, Role::ServiceLead),
        (app.demo.nhs_trust, Role::Partner),
    ] {
        let res = record(&app, who, order(&app, json!(["IDENTITY"]))).await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{who:?}: {:#}", res.body);
    }
    assert_eq!(app.count("legal_authority").await, before);
}

#[tokio::test]
async fn a_legal_authority_must_name_a_partner_a_whole_scope_and_a_reason_when_telling_is_forbidden(
) {
    let app = spawn_app().await;
    let dpo = (app.demo.dpo, Role::Dpo);
    let mut department = order(&app, json!(["IDENTITY"]));
    department["recipient"] = json!({ "kind": "DEPARTMENT", "reference": "history" });
    let notes_without_cases = order(&app, json!(["IDENTITY", "CASE_NOTES"]));
    let mut forbidden_without_reason = order(&app, json!(["IDENTITY"]));
    forbidden_without_reason["informForbidden"] = json!(true);
    let mut expired = order(&app, json!(["IDENTITY"]));
    expired["expiresAt"] = json!((chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    for (what, input, field) in [
        ("department", department, "input.recipient.kind"),
        (
            "notes without cases",
            notes_without_cases,
            "input.categories",
        ),
        (
            "forbidden",
            forbidden_without_reason,
            "input.notInformedReason",
        ),
        ("expired", expired, "input.expiresAt"),
    ] {
        let res = record(&app, dpo, input).await;
        assert_eq!(
            res.codes(),
            vec!["BAD_USER_INPUT"],
            "{what}: {:#}",
            res.body
        );
        assert_eq!(res.errors()[0]["extensions"]["field"], field, "{what}");
    }
    assert_eq!(app.count("legal_authority").await, 0);
}

const MINE: &str = r#"query($id: ID!) { student(id: $id) { legalAuthorities { id reference } } }"#;

#[tokio::test]
async fn the_student_sees_an_authority_once_informed_and_never_when_the_order_forbids_it() {
    let app = spawn_app().await;
    let open = record_as_dpo(&app, order(&app, json!(["IDENTITY"]))).await;
    let mut secret = order(&app, json!(["IDENTITY"]));
    secret["informForbidden"] = json!(true);
    secret["notInformedReason"] = json!("Paragraph 7 of the order forbids telling the student.");
    let secret = record_as_dpo(&app, secret).await;
    let mine = || {
        app.as_caller(
            app.demo.alice,
            Role::Student,
            MINE,
            json!({ "id": id(app.demo.alice) }),
        )
    };
    let res = mine().await;
    res.assert_no_errors();
    assert_eq!(res.data()["student"]["legalAuthorities"], json!([]));

    let inform = r#"mutation($id: ID!) { recordLegalAuthorityStudentInformed(id: $id, informedAt: "2026-11-20T10:00:00Z") { studentInformedAt } }"#;
    let dpo = (app.demo.dpo, Role::Dpo);
    app.as_caller(dpo.0, dpo.1, inform, json!({ "id": open }))
        .await
        .assert_no_errors();
    let refused = app
        .as_caller(dpo.0, dpo.1, inform, json!({ "id": secret }))
        .await;
    assert_eq!(refused.codes(), vec!["CONFLICT"], "{:#}", refused.body);

    let res = mine().await;
    let listed: Vec<&str> = res.data()["student"]["legalAuthorities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![open.as_str()]);
    // The DPO sees both.
    let all = app
        .as_caller(dpo.0, dpo.1, MINE, json!({ "id": id(app.demo.alice) }))
        .await;
    assert_eq!(
        all.data()["student"]["legalAuthorities"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_revoked_authority_releases_nothing_more_and_the_feed_says_access_ended() {
    let app = spawn_app().await;
    let t0 = chrono::Utc::now().to_rfc3339();
    let authority = record_as_dpo(&app, order(&app, json!(["IDENTITY", "SUPPORT_SUMMARY"]))).await;
    let feed = r#"query($since: DateTime) { partnerFeed(since: $since) {
        syncedUntil edges { node { studentId accessBegan accessEnded { reason basis categories } } }
    } }"#;
    let first = app
        .as_caller(
            app.demo.nhs_trust,
            Role::Partner,
            feed,
            json!({ "since": t0 }),
        )
        .await;
    first.assert_no_errors();
    let entry = &first.data()["partnerFeed"]["edges"][0]["node"];
    assert_eq!(entry["studentId"], id(app.demo.alice).as_str());
    assert_eq!(entry["accessBegan"], true);
    let until = first.data()["partnerFeed"]["syncedUntil"].clone();

    let res = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            r#"mutation($id: ID!) { revokeLegalAuthority(id: $id) { active revokedAt } }"#,
            json!({ "id": authority }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["revokeLegalAuthority"]["active"], false);
    let after = read(&app, app.demo.nhs_trust).await;
    assert!(after.data()["student"].is_null(), "{:#}", after.body);

    let next = app
        .as_caller(
            app.demo.nhs_trust,
            Role::Partner,
            feed,
            json!({ "since": until }),
        )
        .await;
    next.assert_no_errors();
    let ended = &next.data()["partnerFeed"]["edges"][0]["node"]["accessEnded"][0];
    assert_eq!(ended["reason"], "REVOKED");
    assert_eq!(ended["basis"], format!("legal_authority:{authority}"));
    assert_eq!(ended["categories"], json!(["IDENTITY", "SUPPORT_SUMMARY"]));
}

/// Found by review: releases under an order the student may not be told of
/// were listed in the student's own disclosure log, naming the order.
#[tokio::test]
async fn releases_under_an_order_the_student_may_not_be_told_of_stay_out_of_their_disclosure_log() {
    let app = spawn_app().await;
    let mut secret = order(&app, json!(["IDENTITY", "SUPPORT_SUMMARY", "CASE_NOTES"]));
    secret["informForbidden"] = json!(true);
    secret["notInformedReason"] = json!("Paragraph 7 of the order.");
    let secret = record_as_dpo(&app, secret).await;
    let res = read(&app, app.demo.nhs_trust).await;
    assert_eq!(res.data()["student"]["name"], "Alice Example");
    let log = || {
        app.as_caller(
            app.demo.alice,
            Role::Student,
            "{ myDisclosures { recipientId basis } }",
            json!({}),
        )
    };
    let mine = log().await;
    mine.assert_no_errors();
    let text = mine.body.to_string();
    assert!(!text.contains(&secret), "{text}");
    assert!(
        !text.contains(&id(app.demo.nhs_trust)),
        "no release to the order's recipient is listed: {text}"
    );

    // An order the student has been told of is listed with its basis.
    let open = record_as_dpo(&app, order(&app, json!(["IDENTITY"]))).await;
    app.as_caller(
        app.demo.dpo,
        Role::Dpo,
        r#"mutation($id: ID!) { recordLegalAuthorityStudentInformed(id: $id, informedAt: "2026-11-20T10:00:00Z") { id } }"#,
        json!({ "id": open }),
    )
    .await
    .assert_no_errors();
    read(&app, app.demo.nhs_trust).await;
    let text = log().await.body.to_string();
    assert!(text.contains(&format!("legal_authority:{open}")), "{text}");
    assert!(!text.contains(&secret), "{text}");
}
