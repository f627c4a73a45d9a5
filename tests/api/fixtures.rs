//! Shared fixtures for the sharing workflows (consents, risk exceptions,
//! disclosures, the partner feed and what outside audiences see): recording a
//! consent, proposing and confirming a risk exception, informing the student,
//! and the student view that outside callers query.

use crate::helpers::{id, Gql, TestApp};
use confide::domain::Role;
use serde_json::{json, Value};
use uuid::Uuid;

const RECORD_CONSENT: &str = r#"mutation($input: RecordConsentInput!) {
    recordConsent(input: $input) { id status categories excludedLabels givenAt receipt recordedByRole }
}"#;

pub async fn record_consent(app: &TestApp, by: (Uuid, Role), input: Value) -> Gql {
    app.as_caller(by.0, by.1, RECORD_CONSENT, json!({ "input": input }))
        .await
}

/// The id of a consent recorded by a caller who may record consents but not
/// read them (reception): the consent is stored, and every field of the
/// mutation's result but its id is withheld with FORBIDDEN at its path.
pub fn unread_consent_id(res: &Gql) -> String {
    let errors = res.errors();
    assert!(
        !errors.is_empty(),
        "the result must be withheld: {:#}",
        res.body
    );
    for e in &errors {
        assert_eq!(e["extensions"]["code"], "FORBIDDEN", "{:#}", res.body);
        assert_eq!(e["path"][0], "recordConsent");
        assert_eq!(
            e["path"].as_array().map(Vec::len),
            Some(2),
            "a field of the result"
        );
    }
    let consent = &res.data()["recordConsent"];
    for field in [
        "status",
        "categories",
        "excludedLabels",
        "givenAt",
        "receipt",
        "recordedByRole",
    ] {
        assert!(
            consent[field].is_null(),
            "{field} must be withheld: {:#}",
            res.body
        );
    }
    consent["id"].as_str().unwrap().to_owned()
}

pub fn consent_id(res: &Gql) -> String {
    res.assert_no_errors();
    res.data()["recordConsent"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

const STUDENT_VIEW: &str = r#"query($id: ID!) {
    student(id: $id) {
        id name department email dateOfBirth emergencyContact
        cases { id service status adjustments riskLevel notes { id body labels } }
    }
    students { totalCount edges { node { id } } }
}"#;

pub async fn view(app: &TestApp, who: (Uuid, Role)) -> Gql {
    app.as_caller(
        who.0,
        who.1,
        STUDENT_VIEW,
        json!({ "id": id(app.demo.alice) }),
    )
    .await
}

pub fn history_department_consent(app: &TestApp) -> Value {
    json!({
        "studentId": id(app.demo.alice),
        "recipient": { "kind": "DEPARTMENT", "reference": "history" },
        "categories": ["SUPPORT_SUMMARY", "ADJUSTMENTS"],
        "purpose": "So my department can arrange exam adjustments.",
        "formReference": "SS-CONSENT-0042"
    })
}

pub const PROPOSE: &str = r#"mutation($input: ProposeRiskExceptionInput!) {
    proposeRiskException(input: $input) { id status expiresAt }
}"#;
pub const CONFIRM: &str =
    r#"mutation($id: ID!) { confirmRiskException(id: $id) { id status confirmedBy } }"#;

pub fn exception_input(app: &TestApp) -> Value {
    json!({
        "studentId": id(app.demo.alice),
        "ground": "SERIOUS_HARM_TO_SELF",
        "studentPosition": "REFUSED",
        "recipients": [{ "kind": "PARTNER", "reference": id(app.demo.nhs_trust) }],
        "categories": ["CONTACT", "TRUSTED_CONTACTS"],
        "justification": "Welfare check needed tonight; student refused consent."
    })
}

pub async fn propose(app: &TestApp) -> String {
    propose_with(app, exception_input(app)).await
}

/// Proposes an exception with this input (by the counsellor): its id.
pub async fn propose_with(app: &TestApp, input: Value) -> String {
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            PROPOSE,
            json!({ "input": input }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["proposeRiskException"]["status"], "PROPOSED");
    res.data()["proposeRiskException"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn inform_student(app: &TestApp, exception: &str) {
    app.as_caller(
        app.demo.counsellor,
        Role::Practitioner,
        r#"mutation($id: ID!, $at: DateTime!) { recordStudentInformed(id: $id, informedAt: $at) { studentInformedAt } }"#,
        json!({ "id": exception, "at": chrono::Utc::now().to_rfc3339() }),
    )
    .await
    .assert_no_errors();
}

/// Proposes the standard exception and has a different registered professional
/// (the mental health adviser) confirm it, so that it is in force.
pub async fn propose_and_confirm(app: &TestApp) -> String {
    let exception = propose(app).await;
    confirm(app, &exception).await;
    exception
}

/// Confirms an exception (by the mental health adviser, not its proposer).
pub async fn confirm(app: &TestApp, exception: &str) {
    app.as_caller(
        app.demo.mental_health_adviser,
        Role::Practitioner,
        CONFIRM,
        json!({ "id": exception }),
    )
    .await
    .assert_no_errors();
}

pub async fn partner_consent(
    app: &TestApp,
    partner: Uuid,
    categories: Value,
    case: Option<Uuid>,
    excluded: Value,
) -> String {
    let mut input = json!({
        "studentId": id(app.demo.alice),
        "recipient": { "kind": "PARTNER", "reference": id(partner) },
        "categories": categories,
        "excludedLabels": excluded,
        "purpose": "Care."
    });
    if let Some(c) = case {
        input["caseId"] = json!(id(c));
    }
    consent_id(&record_consent(app, (app.demo.alice, Role::Student), input).await)
}

/// A student row with only the required details (number, name and email
/// derived from the id), for tests that write their population straight to
/// the database; override fields with `..student_row(id, department)`.
pub fn student_row(id: Uuid, department: &str) -> entity::student::ActiveModel {
    use sea_orm::ActiveValue::Set;
    let now = chrono::Utc::now();
    entity::student::ActiveModel {
        id: Set(id),
        student_number: Set(format!("S{}", &id.simple().to_string()[..10])),
        name: Set(format!("Student {id}")),
        preferred_name: Set(None),
        email: Set(format!("{id}@uni.example")),
        phone: Set(None),
        term_address: Set(None),
        home_address: Set(None),
        date_of_birth: Set(None),
        department: Set(department.into()),
        course: Set("BA".into()),
        emergency_contact: Set(None),
        gp_practice: Set(None),
        processing_restricted: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
}
