//! Casbin evaluations and SQL statements per request do not grow with page size
//! or with the number of fields of one class.

use crate::helpers::{spawn_app, TestApp};
use confide::domain::{labels_to_json, Role, SensitivityLabel};
use entity::{note, student, support_case};
use sea_orm::{EntityTrait, Set, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

/// Adds `n` counselling and mental health cases, each for a new student, with three notes.
async fn add_cases(app: &TestApp, n: usize) {
    let txn = app.db.begin().await.unwrap();
    let now = chrono::Utc::now();
    let mut students = Vec::new();
    let mut cases = Vec::new();
    let mut notes = Vec::new();
    for i in 0..n {
        let student_id = Uuid::now_v7();
        students.push(student::ActiveModel {
            id: Set(student_id),
            student_number: Set(format!("B{i:07}")),
            name: Set(format!("Bench Student {i}")),
            preferred_name: Set(None),
            email: Set(format!("bench{i}@student.uni.example")),
            phone: Set(None),
            term_address: Set(None),
            home_address: Set(None),
            date_of_birth: Set(None),
            department: Set("physics".to_owned()),
            course: Set("BSc Physics".to_owned()),
            emergency_contact: Set(None),
            gp_practice: Set(None),
            processing_restricted: Set(i % 10 == 9),
            created_at: Set(now),
            updated_at: Set(now),
        });
        let case_id = Uuid::now_v7();
        cases.push(support_case::ActiveModel {
            id: Set(case_id),
            student_id: Set(student_id),
            service: Set(if i % 2 == 0 {
                "counselling"
            } else {
                "mental_health"
            }
            .to_owned()),
            status: Set("open".to_owned()),
            opened_at: Set(now),
            closed_at: Set(None),
            assigned_to: Set(Some(app.demo.counsellor)),
            summary: Set(Some("Summary".to_owned())),
            adjustments: Set(None),
            risk_level: Set("low".to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        });
        for k in 0..3 {
            notes.push(note::ActiveModel {
                id: Set(Uuid::now_v7()),
                case_id: Set(case_id),
                kind: Set("meeting".to_owned()),
                occurred_at: Set(now - chrono::Duration::days(k)),
                author_id: Set(if k == 0 {
                    app.demo.counsellor
                } else {
                    app.demo.counselling_lead
                }),
                body: Set(format!("Note {k}")),
                labels: Set(labels_to_json(&[SensitivityLabel::MentalHealth])),
                created_at: Set(now),
            });
        }
    }
    student::Entity::insert_many(students)
        .exec(&txn)
        .await
        .unwrap();
    support_case::Entity::insert_many(cases)
        .exec(&txn)
        .await
        .unwrap();
    for chunk in notes.chunks(300) {
        note::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
}

/// The practitioner dashboard: cases with student and last three notes.
const DASHBOARD: &str = r#"query($first: Int) { supportCases(first: $first) {
    totalCount
    edges { node {
        id service status openedAt summary adjustments riskLevel assignedTo { name }
        student { id name preferredName email studentNumber department course enrolments { startsOn } }
        notes(limit: 3) { id kind occurredAt body labels author { name } }
        thirdPartyEntries { source body }
    } }
} }"#;

#[tokio::test]
async fn sql_statements_and_casbin_evaluations_do_not_grow_with_page_size() {
    let app = spawn_app().await;
    add_cases(&app, 100).await;
    let mut costs = Vec::new();
    for first in [10, 50, 100] {
        let res = app
            .as_caller(
                app.demo.counsellor,
                Role::Practitioner,
                DASHBOARD,
                json!({ "first": first }),
            )
            .await;
        res.assert_no_errors();
        assert_eq!(
            res.data()["supportCases"]["edges"]
                .as_array()
                .unwrap()
                .len(),
            first
        );
        costs.push(res.cost());
    }
    eprintln!("dashboard cost (casbin evaluations, SQL statements) for 10/50/100 cases: {costs:?}");
    assert!(
        costs.iter().all(|c| *c == costs[0]),
        "cost must not depend on page size: {costs:?}"
    );
    let (evaluations, statements) = costs[0];
    // Own, other and restricted cases; students; one decision per field class each.
    assert!(evaluations <= 40, "{evaluations} casbin evaluations");
    // cases+students, count, enrolments, notes, note authors, assignees,
    // third-party entries; the audit write: chain head locked and read, insert,
    // head moved.
    assert!(statements <= 10, "{statements} SQL statements");
}

#[tokio::test]
async fn casbin_evaluations_do_not_grow_with_the_number_of_fields_of_one_class() {
    let app = spawn_app().await;
    let one = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            r#"{ students(first: 3) { edges { node { email } } } }"#,
            json!({}),
        )
        .await;
    let many = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            r#"{ students(first: 3) { edges { node { email phone termAddress homeAddress a: email b: phone } } } }"#,
            json!({}),
        )
        .await;
    one.assert_no_errors();
    many.assert_no_errors();
    assert_eq!(one.cost().0, many.cost().0);
    assert!(one.cost().0 >= 1, "the guard must actually be consulted");
}

#[tokio::test]
async fn schema_execution_applies_the_same_guard_as_http() {
    // Schema-level: execute the schema directly, without HTTP.
    let app = spawn_app().await;
    let policy = confide::policy::load(None).await.unwrap();
    let caller =
        confide::auth::load_caller(&app.db, app.demo.mental_health_adviser, Role::Practitioner)
            .await
            .unwrap()
            .unwrap();
    let request = async_graphql::Request::new(format!(
        r#"{{ supportCase(id: "{}") {{ notes {{ body }} }} }}"#,
        app.demo.alice_counselling_case
    ));
    let response = confide::graphql::execute(
        &confide::schema(),
        app.db.clone(),
        policy,
        caller,
        confide::graphql::Limits {
            max_page_size: 100,
            cost: confide::graphql::cost::CostLimits::default(),
            services: std::sync::Arc::new(vec!["counselling".to_owned()]),
            feed_settle: chrono::Duration::zero(),
            emergency_review_working_days: 2,
            break_glass_max_minutes: 60,
            risk_exception_max_hours: 168,
            statistics: Default::default(),
            research: Default::default(),
            writers: Default::default(),
            population: Default::default(),
            audit: Default::default(),
            admission: Default::default(),
        },
        false,
        uuid::Uuid::now_v7(),
        request,
    )
    .await;
    let body = serde_json::to_value(&response).unwrap();
    assert!(body["data"]["supportCase"]["notes"].is_null());
    assert_eq!(
        body["extensions"]["redactions"][0]["reason"],
        "OUTSIDE_SERVICE"
    );
}

/// Gives every student created by `add_cases` a consent naming the NHS trust.
async fn consent_all_to_trust(app: &TestApp) {
    use entity::consent;
    let students = student::Entity::find().all(&app.db).await.unwrap();
    let now = chrono::Utc::now();
    let rows: Vec<consent::ActiveModel> = students
        .iter()
        .filter(|s| s.student_number.starts_with('B'))
        .map(|s| consent::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(s.id),
            recipient_kind: Set("partner".to_owned()),
            recipient_ref: Set(Some(app.demo.nhs_trust.to_string())),
            categories: Set(json!([
                "IDENTITY",
                "CONTACT",
                "SUPPORT_SUMMARY",
                "CASE_NOTES"
            ])),
            excluded_labels: Set(json!(["SEXUAL_HEALTH"])),
            case_id: Set(None),
            purpose: Set("Shared care".to_owned()),
            given_at: Set(now - chrono::Duration::minutes(1)),
            expires_at: Set(None),
            form_reference: Set(Some("F".to_owned())),
            recorded_by: Set(app.demo.counsellor),
            recorded_by_role: Set("practitioner".to_owned()),
            withdrawn_at: Set(None),
            withdrawn_by: Set(None),
            withdrawal_reason: Set(None),
            created_at: Set(now),
        })
        .collect();
    for chunk in rows.chunks(200) {
        consent::Entity::insert_many(chunk.to_vec())
            .exec(&app.db)
            .await
            .unwrap();
    }
}

const PARTNER_FEED: &str = r#"query($first: Int, $since: DateTime!) { partnerFeed(since: $since, first: $first) {
    edges { node { student {
        id name email dateOfBirth
        cases { service status openedAt notes(limit: 3) { occurredAt body labels } }
    } } }
} }"#;

#[tokio::test]
async fn partner_feed_cost_does_not_grow_with_page_size() {
    let app = spawn_app().await;
    add_cases(&app, 60).await;
    consent_all_to_trust(&app).await;
    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let mut costs = Vec::new();
    for first in [10, 50] {
        let res = app
            .as_caller(
                app.demo.nhs_trust,
                Role::Partner,
                PARTNER_FEED,
                json!({ "first": first, "since": since }),
            )
            .await;
        assert!(
            res.codes().iter().all(|c| c == "FORBIDDEN"),
            "only denials (restricted students' denied classes): {:#}",
            res.body
        );
        assert_eq!(
            res.data()["partnerFeed"]["edges"].as_array().unwrap().len(),
            first
        );
        costs.push(res.cost());
    }
    eprintln!(
        "partner feed cost (casbin evaluations, SQL statements) for 10/50 students: {costs:?}"
    );
    assert_eq!(costs[0], costs[1], "cost must not depend on page size");
    let (evaluations, statements) = costs[1];
    assert!(evaluations <= 40, "{evaluations} casbin evaluations");
    // feed keys, changed classes, consents, exceptions, legal authorities,
    // students, cases, notes; audit chain head locked and read, insert, head moved.
    assert!(statements <= 11, "{statements} SQL statements");
}
