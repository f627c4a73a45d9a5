//! The default field matrix, role by role: an allowed, a redacted and a denied
//! field where the matrix has them, and row visibility.

use crate::helpers::{id, spawn_app};
use confide::domain::Role;
use serde_json::json;

const CASE: &str = r#"query($id: ID!) { supportCase(id: $id) {
    id service status openedAt summary adjustments riskLevel
    student { id name email dateOfBirth department emergencyContact }
    notes { body labels }
    thirdPartyEntries { body }
} }"#;

fn p(field: &str) -> serde_json::Value {
    json!(["supportCase", field])
}

#[tokio::test]
async fn practitioner_sees_the_content_of_their_own_service_case() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            CASE,
            json!({ "id": id(app.demo.alice_counselling_case) }),
        )
        .await;
    res.assert_no_errors();
    let case = &res.data()["supportCase"];
    assert_eq!(case["riskLevel"], "MEDIUM");
    assert_eq!(case["adjustments"], "Extra time in exams (25%).");
    assert_eq!(case["notes"].as_array().unwrap().len(), 3);
    assert_eq!(case["thirdPartyEntries"].as_array().unwrap().len(), 1);
    assert_eq!(case["student"]["email"], "alice@student.uni.example");
    assert!(res.body["extensions"]["redactions"].is_null());
}

#[tokio::test]
async fn practitioner_of_another_service_gets_the_case_with_outside_service_redactions() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.mental_health_adviser,
            Role::Practitioner,
            CASE,
            json!({ "id": id(app.demo.alice_counselling_case) }),
        )
        .await;
    res.assert_no_errors();
    let case = &res.data()["supportCase"];
    assert_eq!(
        case["id"],
        id(app.demo.alice_counselling_case),
        "a redaction never nulls the parent"
    );
    assert_eq!(case["service"], "counselling");
    assert_eq!(case["summary"], "Weekly counselling sessions.");
    assert_eq!(case["student"]["name"], "Alice Example");
    for field in ["adjustments", "riskLevel", "notes", "thirdPartyEntries"] {
        assert!(case[field].is_null(), "{field} must be withheld");
        assert_eq!(
            res.redaction(p(field)).as_deref(),
            Some("OUTSIDE_SERVICE"),
            "{field}"
        );
    }
}

#[tokio::test]
async fn service_lead_sees_own_service_third_party_entries_but_not_another_services() {
    let app = spawn_app().await;
    let own = app
        .as_caller(
            app.demo.counselling_lead,
            Role::ServiceLead,
            CASE,
            json!({ "id": id(app.demo.alice_counselling_case) }),
        )
        .await;
    own.assert_no_errors();
    assert_eq!(
        own.data()["supportCase"]["thirdPartyEntries"][0]["body"],
        "Flatmate reported being worried about Alice's wellbeing."
    );
    let other = app
        .as_caller(
            app.demo.counselling_lead,
            Role::ServiceLead,
            CASE,
            json!({ "id": id(app.demo.alice_mental_health_case) }),
        )
        .await;
    other.assert_no_errors();
    assert!(other.data()["supportCase"]["notes"].is_null());
    assert_eq!(
        other.redaction(p("notes")).as_deref(),
        Some("OUTSIDE_SERVICE")
    );
}

#[tokio::test]
async fn student_sees_own_record_with_notes_via_subject_access_and_no_third_party_information() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.alice,
            Role::Student,
            CASE,
            json!({ "id": id(app.demo.alice_counselling_case) }),
        )
        .await;
    let case = &res.data()["supportCase"];
    assert_eq!(case["adjustments"], "Extra time in exams (25%).");
    assert_eq!(case["student"]["email"], "alice@student.uni.example");
    assert!(case["notes"].is_null());
    assert_eq!(
        res.redaction(p("notes")).as_deref(),
        Some("ACCESS_VIA_SUBJECT_ACCESS_REQUEST")
    );
    assert_eq!(
        res.redaction(p("riskLevel")).as_deref(),
        Some("ACCESS_VIA_SUBJECT_ACCESS_REQUEST")
    );
    assert!(case["thirdPartyEntries"].is_null());
    assert_eq!(
        res.error_at(p("thirdPartyEntries")).as_deref(),
        Some("FORBIDDEN")
    );
    assert_eq!(res.errors().len(), 1);
}

#[tokio::test]
async fn student_cannot_see_another_student_by_any_route() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.alice,
            Role::Student,
            r#"query($bob: ID!, $case: ID!) {
                student(id: $bob) { id name }
                supportCase(id: $case) { id }
                students(first: 50) { totalCount edges { node { id } } }
                supportCases(first: 50) { totalCount edges { node { id } } }
            }"#,
            json!({ "bob": id(app.demo.bob), "case": id(app.demo.bob_disability_case) }),
        )
        .await;
    res.assert_no_errors();
    assert!(res.data()["student"].is_null());
    assert!(res.data()["supportCase"].is_null());
    assert_eq!(res.data()["students"]["totalCount"], 1);
    assert_eq!(
        res.data()["students"]["edges"][0]["node"]["id"],
        id(app.demo.alice)
    );
    assert_eq!(res.data()["supportCases"]["totalCount"], 2);
}

#[tokio::test]
async fn reception_sees_booking_metadata_but_summary_is_denied_and_adjustments_redacted() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            CASE,
            json!({ "id": id(app.demo.alice_counselling_case) }),
        )
        .await;
    let case = &res.data()["supportCase"];
    assert_eq!(case["status"], "OPEN");
    assert!(case["openedAt"].is_string());
    assert_eq!(case["student"]["email"], "alice@student.uni.example");
    assert!(case["adjustments"].is_null());
    assert_eq!(
        res.redaction(p("adjustments")).as_deref(),
        Some("ROLE_NOT_PERMITTED")
    );
    for field in ["summary", "riskLevel", "notes", "thirdPartyEntries"] {
        assert!(case[field].is_null());
        assert_eq!(
            res.error_at(p(field)).as_deref(),
            Some("FORBIDDEN"),
            "{field}"
        );
    }
}

#[tokio::test]
async fn analyst_sees_aggregate_statistics_and_no_individual_rows() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.analyst,
            Role::Analyst,
            r#"query($id: ID!, $case: ID!) {
                caseStatistics { service status count suppressed }
                student(id: $id) { id }
                supportCase(id: $case) { id }
                students { totalCount }
                supportCases { totalCount }
            }"#,
            json!({ "id": id(app.demo.alice), "case": id(app.demo.alice_counselling_case) }),
        )
        .await;
    res.assert_no_errors();
    assert!(res.data()["student"].is_null());
    assert!(res.data()["supportCase"].is_null());
    assert_eq!(res.data()["students"]["totalCount"], 0);
    assert_eq!(res.data()["supportCases"]["totalCount"], 0);
    // Carol (restricted) is not counted, and the rest (three cases of two
    // students) is below the threshold: every count is withheld.
    assert_eq!(
        res.data()["caseStatistics"],
        json!([
            { "service": "counselling", "status": "OPEN", "count": null, "suppressed": true },
            { "service": "disability", "status": "OPEN", "count": null, "suppressed": true },
            { "service": "mental_health", "status": "OPEN", "count": null, "suppressed": true },
        ])
    );
}

#[tokio::test]
async fn practitioners_and_reception_cannot_read_statistics() {
    let app = spawn_app().await;
    for (who, role) in [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.reception, Role::Reception),
    ] {
        let res = app
            .as_caller(who, role, "{ caseStatistics { count } }", json!({}))
            .await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role:?}");
    }
}

#[tokio::test]
async fn it_support_sees_identifiers_and_timestamps_only() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.it_support,
            Role::ItSupport,
            r#"query($id: ID!) { supportCase(id: $id) { id service notes { body } student { id name } } }"#,
            json!({ "id": id(app.demo.alice_counselling_case) }),
        )
        .await;
    let case = &res.data()["supportCase"];
    assert_eq!(case["id"], id(app.demo.alice_counselling_case));
    assert!(case["service"].is_null());
    assert_eq!(
        res.redaction(p("service")).as_deref(),
        Some("ROLE_NOT_PERMITTED")
    );
    assert!(case["student"]["name"].is_null());
    assert_eq!(res.error_at(p("notes")).as_deref(), Some("FORBIDDEN"));
}

#[tokio::test]
async fn dpo_reads_identity_and_sees_notes_only_through_a_subject_access_request() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            CASE,
            json!({ "id": id(app.demo.alice_counselling_case) }),
        )
        .await;
    res.assert_no_errors();
    let case = &res.data()["supportCase"];
    assert_eq!(case["student"]["email"], "alice@student.uni.example");
    assert!(case["notes"].is_null());
    assert_eq!(
        res.redaction(p("notes")).as_deref(),
        Some("ACCESS_VIA_SUBJECT_ACCESS_REQUEST")
    );
    assert_eq!(
        res.redaction(p("adjustments")).as_deref(),
        Some("ACCESS_VIA_SUBJECT_ACCESS_REQUEST")
    );
}

#[tokio::test]
async fn restricted_student_is_redacted_for_every_role_but_the_dpo() {
    let app = spawn_app().await;
    let q = r#"query($id: ID!) { student(id: $id) { id name email cases { id notes { body } } } }"#;
    let vars = json!({ "id": id(app.demo.carol) });
    let counsellor = app
        .as_caller(app.demo.counsellor, Role::Practitioner, q, vars.clone())
        .await;
    counsellor.assert_no_errors();
    assert!(counsellor.data()["student"]["name"].is_null());
    assert_eq!(
        counsellor.redaction(json!(["student", "name"])).as_deref(),
        Some("PROCESSING_RESTRICTED")
    );
    assert_eq!(
        counsellor.redaction(json!(["student", "cases"])).as_deref(),
        Some("PROCESSING_RESTRICTED")
    );
    let dpo = app.as_caller(app.demo.dpo, Role::Dpo, q, vars).await;
    dpo.assert_no_errors();
    assert_eq!(dpo.data()["student"]["name"], "Carol Example");
    assert_eq!(dpo.data()["student"]["cases"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn outside_audiences_see_no_students_without_consent() {
    let app = spawn_app().await;
    let q = r#"query($id: ID!, $case: ID!) {
        student(id: $id) { id }
        supportCase(id: $case) { id }
        students { totalCount edges { node { id } } }
        supportCases { totalCount edges { node { id } } }
    }"#;
    let vars = json!({ "id": id(app.demo.alice), "case": id(app.demo.alice_counselling_case) });
    for (who, role) in [
        (app.demo.history_department, Role::Department),
        (app.demo.accommodation, Role::UniversityService),
        (app.demo.nhs_trust, Role::Partner),
    ] {
        let res = app.as_caller(who, role, q, vars.clone()).await;
        res.assert_no_errors();
        assert!(res.data()["student"].is_null(), "{role:?}");
        assert!(res.data()["supportCase"].is_null(), "{role:?}");
        assert_eq!(res.data()["students"]["totalCount"], 0, "{role:?}");
        assert_eq!(res.data()["students"]["edges"], json!([]), "{role:?}");
        assert_eq!(res.data()["supportCases"]["totalCount"], 0, "{role:?}");
    }
}

#[tokio::test]
async fn a_hidden_row_answers_exactly_like_a_missing_one() {
    let app = spawn_app().await;
    let q = r#"query($id: ID!) { student(id: $id) { id name } }"#;
    let hidden = app
        .as_caller(
            app.demo.history_department,
            Role::Department,
            q,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    let missing = app
        .as_caller(
            app.demo.history_department,
            Role::Department,
            q,
            json!({ "id": id(uuid::Uuid::now_v7()) }),
        )
        .await;
    assert_eq!(hidden.status, missing.status);
    let strip = |b: &serde_json::Value| {
        let mut b = b.clone();
        if let Some(e) = b["extensions"].as_object_mut() {
            // Every request has its own cost and its own id.
            for key in ["cost", "requestId", "traceId"] {
                e.remove(key);
            }
        }
        b
    };
    assert_eq!(strip(&hidden.body), strip(&missing.body));
}
