//! Break-glass reads (settled decision "emergencies"): a practitioner opens a
//! time-boxed emergency read of one case outside their service, with a reason;
//! reads under it are audited with it as the basis and shown to the caller; it
//! ends by itself; the case's service lead gets a review item.

use crate::helpers::{id, spawn_app};
use confide::domain::Role;
use entity::{audit_event, emergency_access};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

const OPEN: &str = r#"mutation($case: ID!, $reason: String!) {
    openEmergencyAccess(caseId: $case, reason: $reason) { id expiresAt }
}"#;
const READ: &str = r#"query($case: ID!) { supportCase(id: $case) { riskLevel notes { body } thirdPartyEntries { body } } }"#;

#[tokio::test]
async fn a_break_glass_read_works_in_its_window_is_audited_ends_and_leaves_a_review_item() {
    let app = spawn_app().await;
    // The mental health adviser, outside counselling, reads Alice's counselling case.
    let adviser = (app.demo.mental_health_adviser, Role::Practitioner);
    let case = json!({ "case": id(app.demo.alice_counselling_case) });
    let before = app
        .as_caller(adviser.0, adviser.1, READ, case.clone())
        .await;
    assert_eq!(
        before.redaction(json!(["supportCase", "notes"])).as_deref(),
        Some("OUTSIDE_SERVICE")
    );
    // A reason is required.
    let res = app
        .as_caller(
            adviser.0,
            adviser.1,
            OPEN,
            json!({ "case": id(app.demo.alice_counselling_case), "reason": " " }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    let res = app
        .as_caller(
            adviser.0,
            adviser.1,
            OPEN,
            json!({ "case": id(app.demo.alice_counselling_case), "reason": "Student in crisis at A&E; on-call needs the safety plan." }),
        )
        .await;
    res.assert_no_errors();
    let grant = res.data()["openEmergencyAccess"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let during = app
        .as_caller(adviser.0, adviser.1, READ, case.clone())
        .await;
    during.assert_no_errors();
    let c = &during.data()["supportCase"];
    assert_eq!(c["riskLevel"], "MEDIUM");
    assert_eq!(c["notes"].as_array().unwrap().len(), 3);
    // Third-party information never leaves the owning service.
    assert_eq!(
        during
            .redaction(json!(["supportCase", "thirdPartyEntries"]))
            .as_deref(),
        Some("OUTSIDE_SERVICE")
    );
    // The caller is shown they read under emergency access.
    assert_eq!(during.body["extensions"]["emergencyAccess"][0]["id"], grant);
    // Audited with the grant as the basis.
    let audited = audit_event::Entity::find()
        .filter(audit_event::Column::Basis.eq(format!("emergency_access:{grant}")))
        .all(&app.db)
        .await
        .unwrap();
    assert!(
        audited
            .iter()
            .any(|e| e.fields.to_string().contains("CASE_NOTES")),
        "{audited:?}"
    );

    // The counselling lead has a review item; the mental health lead's list
    // (another service) would not; the lead completes it.
    let reviews = r#"{ emergencyAccessReviews { id reason } }"#;
    let lead = (app.demo.counselling_lead, Role::ServiceLead);
    let list = app.as_caller(lead.0, lead.1, reviews, json!({})).await;
    list.assert_no_errors();
    assert_eq!(list.data()["emergencyAccessReviews"][0]["id"], grant);
    app.as_caller(
        lead.0,
        lead.1,
        r#"mutation($id: ID!) { reviewEmergencyAccess(id: $id) { reviewedAt } }"#,
        json!({ "id": grant }),
    )
    .await
    .assert_no_errors();
    let list = app.as_caller(lead.0, lead.1, reviews, json!({})).await;
    assert_eq!(list.data()["emergencyAccessReviews"], json!([]));

    // It ends by itself: after its expiry the case reads as another service's again.
    let mut model: emergency_access::ActiveModel =
        emergency_access::Entity::find_by_id(Uuid::parse_str(&grant).unwrap())
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .into();
    model.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    model.update(&app.db).await.unwrap();
    let after = app.as_caller(adviser.0, adviser.1, READ, case).await;
    assert!(after.data()["supportCase"]["notes"].is_null());
    assert_eq!(
        after.redaction(json!(["supportCase", "notes"])).as_deref(),
        Some("OUTSIDE_SERVICE")
    );
    assert!(after.body["extensions"]["emergencyAccess"].is_null());
}

#[tokio::test]
async fn break_glass_is_for_another_services_case_only_and_time_boxed() {
    let app = spawn_app().await;
    // One's own service's case needs no glass broken.
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            OPEN,
            json!({ "case": id(app.demo.alice_counselling_case), "reason": "Crisis." }),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    // Reception and outside audiences never.
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            OPEN,
            json!({ "case": id(app.demo.alice_mental_health_case), "reason": "Crisis." }),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    // At most the configured maximum (60 minutes).
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            r#"mutation($case: ID!) { openEmergencyAccess(caseId: $case, reason: "Crisis.", minutes: 600) { id } }"#,
            json!({ "case": id(app.demo.alice_mental_health_case) }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(app.count("emergency_access").await, 0);
}
