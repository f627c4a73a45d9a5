//! The monitoring view (issue 11, item 4): waiting times, caseload per
//! practitioner, open risk exceptions and overdue reviews, for service leads
//! (their own service) and the DPO (every service); figures about students
//! under the statistics disclosure control; audited.

use crate::helpers::{spawn_app, Gql, TestApp};
use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Utc};
use confide::domain::Role;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

const VIEW: &str = r#"{ monitoring { releaseId generatedAt threshold method services {
    service
    waitingTimes { month cases seen stillWaiting medianDays p90Days suppressed }
    waitingTotal { month cases seen stillWaiting medianDays p90Days suppressed }
    caseload { staffId name openCases }
    unassignedOpenCases { count suppressed }
    openRiskExceptions { count suppressed }
    overdueEmergencyReviews { count suppressed }
    pendingBreakGlassReviews { count suppressed }
} } }"#;

async fn view(app: &TestApp, who: Uuid, role: Role) -> Gql {
    app.as_caller(who, role, VIEW, json!({})).await
}

/// The 11th of the month `months_ago` months before this one, 10:00.
fn month_ago(months_ago: u32) -> DateTime<Utc> {
    let now = Utc::now();
    let first = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 10, 0, 0)
        .unwrap();
    first.checked_sub_months(Months::new(months_ago)).unwrap() + Duration::days(10)
}

fn month_text(at: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", at.year(), at.month())
}

/// Cases opened `months_ago` months back in `service`, one student each:
/// the first note after each of `days` (a case per entry), then `waiting`
/// cases with no note; assigned to `assignee`, open.
struct Cases {
    service: &'static str,
    months_ago: u32,
    days: Vec<i64>,
    waiting: usize,
    assignee: Option<Uuid>,
    status: &'static str,
}

fn cases(service: &'static str, months_ago: u32, days: Vec<i64>, waiting: usize) -> Cases {
    Cases {
        service,
        months_ago,
        days,
        waiting,
        assignee: None,
        status: "closed",
    }
}

async fn insert_student(app: &TestApp) -> Uuid {
    let id = Uuid::new_v4();
    entity::student::Entity::insert(crate::fixtures::student_row(id, "History"))
        .exec(&app.db)
        .await
        .unwrap();
    id
}

async fn populate(app: &TestApp, c: Cases) -> Vec<Uuid> {
    let opened = month_ago(c.months_ago);
    let now = Utc::now();
    let mut students = Vec::new();
    let plan: Vec<Option<i64>> = c
        .days
        .iter()
        .map(|d| Some(*d))
        .chain(std::iter::repeat_n(None, c.waiting))
        .collect();
    for days in plan {
        let student = insert_student(app).await;
        let case = Uuid::new_v4();
        entity::support_case::Entity::insert(entity::support_case::ActiveModel {
            id: Set(case),
            student_id: Set(student),
            service: Set(c.service.into()),
            status: Set(c.status.into()),
            opened_at: Set(opened),
            closed_at: Set((c.status == "closed").then_some(opened + Duration::days(30))),
            assigned_to: Set(c.assignee),
            summary: Set(None),
            adjustments: Set(None),
            risk_level: Set("low".into()),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec(&app.db)
        .await
        .unwrap();
        if let Some(d) = days {
            entity::note::Entity::insert(entity::note::ActiveModel {
                id: Set(Uuid::new_v4()),
                case_id: Set(case),
                kind: Set("meeting".into()),
                occurred_at: Set(opened + Duration::days(d)),
                author_id: Set(app.demo.counsellor),
                body: Set("met".into()),
                labels: Set(json!([])),
                created_at: Set(now),
            })
            .exec(&app.db)
            .await
            .unwrap();
        }
        students.push(student);
    }
    students
}

fn service<'a>(res: &'a Gql, name: &str) -> &'a Value {
    res.data()["monitoring"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap_or_else(|| panic!("no service {name}: {:#}", res.body))
}

fn month(s: &Value, at: DateTime<Utc>) -> &Value {
    let m = month_text(at);
    s["waitingTimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["month"] == m.as_str())
        .unwrap_or_else(|| panic!("no month {m}: {s:#}"))
}

fn monitoring_events(events: &[entity::audit_event::Model]) -> Vec<&entity::audit_event::Model> {
    events.iter().filter(|e| e.action == "monitoring").collect()
}

async fn audit(app: &TestApp) -> Vec<entity::audit_event::Model> {
    entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Action.eq("monitoring"))
        .all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_service_lead_sees_only_their_own_service_and_the_dpo_sees_every_service() {
    let app = spawn_app().await;
    let res = view(&app, app.demo.counselling_lead, Role::ServiceLead).await;
    res.assert_no_errors();
    let services = res.data()["monitoring"]["services"].as_array().unwrap();
    assert_eq!(services.len(), 1, "{:#}", res.body);
    assert_eq!(services[0]["service"], "counselling");
    assert_eq!(res.data()["monitoring"]["threshold"], 5);
    assert_eq!(
        services[0]["waitingTimes"].as_array().unwrap().len(),
        12,
        "the last twelve months"
    );
    let res = view(&app, app.demo.dpo, Role::Dpo).await;
    res.assert_no_errors();
    let names: Vec<&str> = res.data()["monitoring"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["counselling", "mental_health", "disability", "wellbeing"]
    );
}

#[tokio::test]
async fn a_waiting_time_row_about_fewer_than_five_students_is_suppressed_and_not_recoverable_from_the_total(
) {
    let app = spawn_app().await;
    // Three students four months ago (waiting), twelve five months ago (seen
    // after 3 days), twenty six months ago (seen after 5). The demo adds one
    // counselling case of Alice two months ago (seen); Carol's is restricted
    // and not counted.
    populate(&app, cases("counselling", 4, vec![], 3)).await;
    populate(&app, cases("counselling", 5, vec![3; 12], 0)).await;
    populate(&app, cases("counselling", 6, vec![5; 20], 0)).await;
    let res = view(&app, app.demo.counselling_lead, Role::ServiceLead).await;
    res.assert_no_errors();
    let s = service(&res, "counselling");
    let small = month(s, month_ago(4));
    assert_eq!(small["suppressed"], true, "{s:#}");
    for f in ["cases", "seen", "stillWaiting", "medianDays", "p90Days"] {
        assert!(small[f].is_null(), "{f} of a row about 3 students: {s:#}");
    }
    let total = s["waitingTotal"]["cases"].as_i64().expect("total released");
    assert_eq!(total, 36);
    let rows = s["waitingTimes"].as_array().unwrap();
    let released: i64 = rows.iter().filter_map(|r| r["cases"].as_i64()).sum();
    let hidden = rows.iter().filter(|r| r["cases"].is_null()).count();
    assert!(
        hidden >= 2 && total - released >= 5,
        "the suppressed rows ({hidden}, {} cases together) give away a small one: {s:#}",
        total - released
    );
    // The row of twenty stands, with its times.
    let big = month(s, month_ago(6));
    assert_eq!(big["cases"], 20);
    assert_eq!(big["medianDays"], 5.0);
    // Still waiting overall: 3, under the threshold: withheld.
    assert!(s["waitingTotal"]["stillWaiting"].is_null(), "{s:#}");
}

#[tokio::test]
async fn waiting_times_show_the_median_and_90th_percentile_days_to_the_first_note() {
    let app = spawn_app().await;
    populate(&app, cases("wellbeing", 5, (1..=20).collect(), 5)).await;
    populate(&app, cases("wellbeing", 4, vec![2; 10], 6)).await;
    let res = view(&app, app.demo.dpo, Role::Dpo).await;
    res.assert_no_errors();
    let s = service(&res, "wellbeing");
    let five = month(s, month_ago(5));
    assert_eq!(five["cases"], 25, "{s:#}");
    assert_eq!(five["seen"], 20);
    assert_eq!(five["stillWaiting"], 5);
    assert_eq!(five["medianDays"], 10.5);
    assert_eq!(five["p90Days"], 18.0);
    let four = month(s, month_ago(4));
    assert_eq!(four["cases"], 16);
    assert_eq!(four["stillWaiting"], 6);
    assert_eq!(four["medianDays"], 2.0);
    assert_eq!(four["p90Days"], 2.0);
    let total = &s["waitingTotal"];
    assert!(total["month"].is_null());
    assert_eq!(total["cases"], 41);
    assert_eq!(total["seen"], 30);
    assert_eq!(total["stillWaiting"], 11);
    assert_eq!(total["medianDays"], 5.5);
    assert_eq!(total["p90Days"], 17.0);
    // An empty month is zero, not withheld.
    let empty = month(s, month_ago(7));
    assert_eq!(empty["cases"], 0);
    assert_eq!(empty["suppressed"], false);
}

#[tokio::test]
async fn caseload_per_practitioner_is_exact_and_unassigned_open_cases_are_protected() {
    let app = spawn_app().await;
    let lead = app.demo.counselling_lead;
    populate(
        &app,
        Cases {
            assignee: Some(lead),
            status: "open",
            ..cases("counselling", 3, vec![], 3)
        },
    )
    .await;
    // Closed cases and another service's are no one's caseload here.
    populate(
        &app,
        Cases {
            assignee: Some(app.demo.counsellor),
            ..cases("counselling", 3, vec![], 2)
        },
    )
    .await;
    populate(
        &app,
        Cases {
            assignee: Some(app.demo.mental_health_adviser),
            status: "open",
            ..cases("mental_health", 3, vec![], 2)
        },
    )
    .await;
    let unassigned = Cases {
        status: "open",
        ..cases("counselling", 3, vec![], 2)
    };
    populate(&app, unassigned).await;
    let res = view(&app, lead, Role::ServiceLead).await;
    res.assert_no_errors();
    let s = service(&res, "counselling");
    let caseload: Vec<(String, i64)> = s["caseload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["staffId"].as_str().unwrap().to_owned(),
                c["openCases"].as_i64().unwrap(),
            )
        })
        .collect();
    // The counsellor holds Alice's and Carol's cases (the demo), the lead
    // three; the former counsellor (inactive) is not listed.
    let of = |id: Uuid| {
        caseload
            .iter()
            .find(|(s, _)| *s == id.to_string())
            .map(|(_, n)| *n)
    };
    assert_eq!(of(app.demo.counsellor), Some(2), "{s:#}");
    assert_eq!(of(lead), Some(3));
    assert_eq!(of(app.demo.former_counsellor), None);
    assert_eq!(caseload.len(), 2, "{s:#}");
    // Two unassigned open cases: two students, withheld.
    assert_eq!(
        s["unassignedOpenCases"],
        json!({ "count": null, "suppressed": true })
    );
    populate(
        &app,
        Cases {
            status: "open",
            ..cases("counselling", 3, vec![], 4)
        },
    )
    .await;
    let res = view(&app, lead, Role::ServiceLead).await;
    let s = service(&res, "counselling");
    assert_eq!(
        s["unassignedOpenCases"],
        json!({ "count": 6, "suppressed": false })
    );
}

async fn risk_exception(
    app: &TestApp,
    proposer: Uuid,
    confirmed: bool,
    revoked: bool,
    expires_in: Duration,
) {
    let student = insert_student(app).await;
    let now = Utc::now();
    entity::risk_exception::Entity::insert(entity::risk_exception::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student),
        ground: Set("serious_harm_to_self".into()),
        student_position: Set("refused".into()),
        recipients: Set(json!([])),
        categories: Set(json!(["IDENTITY"])),
        justification: Set("Walk.".into()),
        proposed_by: Set(proposer),
        proposed_at: Set(now - Duration::hours(2)),
        confirmed_by: Set(confirmed.then_some(app.demo.mental_health_adviser)),
        confirmed_at: Set(confirmed.then_some(now - Duration::hours(1))),
        expires_at: Set(now + expires_in),
        revoked_at: Set(revoked.then_some(now)),
        revoked_by: Set(revoked.then_some(proposer)),
        student_informed_at: Set(None),
        not_informed_reason: Set(None),
        created_at: Set(now),
        concern_notice: Set(None),
    })
    .exec(&app.db)
    .await
    .unwrap();
}

async fn emergency_disclosure(app: &TestApp, by: Uuid, due_in: Duration, reviewed: bool) {
    let student = insert_student(app).await;
    let now = Utc::now();
    entity::emergency_disclosure::Entity::insert(entity::emergency_disclosure::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student),
        disclosed_by: Set(by),
        recipient: Set("Ambulance service".into()),
        method: Set("telephone".into()),
        categories: Set(json!(["IDENTITY"])),
        reason: Set("Collapsed.".into()),
        occurred_at: Set(now - Duration::days(5)),
        review_due_at: Set(now + due_in),
        reviewed_by: Set(reviewed.then_some(app.demo.mental_health_adviser)),
        reviewed_at: Set(reviewed.then_some(now)),
        review_outcome: Set(reviewed.then(|| "Necessary.".to_owned())),
        student_informed_at: Set(None),
        not_informed_reason: Set(None),
        created_at: Set(now),
    })
    .exec(&app.db)
    .await
    .unwrap();
}

async fn break_glass(app: &TestApp, service: &str) {
    let student = insert_student(app).await;
    let now = Utc::now();
    entity::emergency_access::Entity::insert(entity::emergency_access::ActiveModel {
        id: Set(Uuid::new_v4()),
        case_id: Set(Uuid::new_v4()),
        student_id: Set(student),
        staff_id: Set(app.demo.mental_health_adviser),
        service: Set(service.into()),
        reason: Set("Crisis out of hours.".into()),
        opened_at: Set(now - Duration::hours(3)),
        expires_at: Set(now - Duration::hours(2)),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
    })
    .exec(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn open_risk_exceptions_and_overdue_reviews_are_counted_and_withheld_when_small() {
    let app = spawn_app().await;
    let (counsellor, adviser) = (app.demo.counsellor, app.demo.mental_health_adviser);
    for _ in 0..6 {
        risk_exception(&app, counsellor, true, false, Duration::hours(24)).await;
    }
    // Not in force: unconfirmed, revoked, expired.
    risk_exception(&app, counsellor, false, false, Duration::hours(24)).await;
    risk_exception(&app, counsellor, true, true, Duration::hours(24)).await;
    risk_exception(&app, counsellor, true, false, Duration::hours(-1)).await;
    for _ in 0..2 {
        risk_exception(&app, adviser, true, false, Duration::hours(24)).await;
    }
    for _ in 0..5 {
        emergency_disclosure(&app, counsellor, Duration::days(-1), false).await;
    }
    // Reviewed, and not yet due: not overdue.
    emergency_disclosure(&app, counsellor, Duration::days(-1), true).await;
    emergency_disclosure(&app, counsellor, Duration::days(1), false).await;
    for _ in 0..2 {
        break_glass(&app, "counselling").await;
    }
    for _ in 0..7 {
        break_glass(&app, "mental_health").await;
    }
    let res = view(&app, app.demo.dpo, Role::Dpo).await;
    res.assert_no_errors();
    let counselling = service(&res, "counselling");
    let mental_health = service(&res, "mental_health");
    let shown = |s: &Value, f: &str| s[f]["count"].clone();
    assert_eq!(
        shown(counselling, "openRiskExceptions"),
        6,
        "{counselling:#}"
    );
    assert_eq!(shown(counselling, "overdueEmergencyReviews"), 5);
    assert_eq!(
        counselling["pendingBreakGlassReviews"],
        json!({ "count": null, "suppressed": true })
    );
    assert_eq!(
        mental_health["openRiskExceptions"],
        json!({ "count": null, "suppressed": true })
    );
    assert_eq!(shown(mental_health, "overdueEmergencyReviews"), 0);
    assert_eq!(shown(mental_health, "pendingBreakGlassReviews"), 7);
    // The counselling lead sees the same counselling figures.
    let res = view(&app, app.demo.counselling_lead, Role::ServiceLead).await;
    let own = service(&res, "counselling");
    assert_eq!(shown(own, "openRiskExceptions"), 6);
    assert_eq!(shown(own, "overdueEmergencyReviews"), 5);
}

#[tokio::test]
async fn roles_other_than_service_leads_and_the_dpo_are_refused_the_monitoring_view() {
    let app = spawn_app().await;
    for (who, role) in [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.reception, Role::Reception),
        (app.demo.analyst, Role::Analyst),
        (app.demo.it_support, Role::ItSupport),
        (app.demo.history_department, Role::Department),
        (app.demo.accommodation, Role::UniversityService),
        (app.demo.nhs_trust, Role::Partner),
        (app.demo.alice, Role::Student),
        (app.demo.admin, Role::Admin),
    ] {
        let res = view(&app, who, role).await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role:?}: {:#}", res.body);
        assert!(res.data()["monitoring"].is_null());
    }
    assert!(audit(&app).await.is_empty(), "nothing audited as released");
    assert_eq!(app.count("statistics_release").await, 0);
}

#[tokio::test]
async fn every_monitoring_view_is_audited_with_the_figures_released_and_recorded_in_the_ledger() {
    let app = spawn_app().await;
    populate(&app, cases("counselling", 5, vec![3; 12], 0)).await;
    populate(&app, cases("counselling", 4, vec![], 3)).await;
    let lead = app.demo.counselling_lead;
    let res = view(&app, lead, Role::ServiceLead).await;
    res.assert_no_errors();
    let release = res.data()["monitoring"]["releaseId"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = audit(&app).await;
    let events = monitoring_events(&events);
    assert_eq!(events.len(), 1);
    let e = events[0];
    assert_eq!(e.actor_id, lead);
    assert_eq!(e.student_id, None);
    assert_eq!(e.outcome, "allow");
    let detail: Value = serde_json::from_str(e.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["release"], release);
    assert_eq!(detail["scope"], "own");
    assert_eq!(detail["services"], json!(["counselling"]));
    assert!(detail["released"].as_u64().unwrap() > 0);
    assert!(detail["suppressed"].as_u64().unwrap() > 0);
    // The figures as shown, and no names of students or staff.
    let s = service(&res, "counselling");
    assert_eq!(
        detail["figures"][0]["waitingTotal"]["cases"],
        s["waitingTotal"]["cases"]
    );
    let text = e.detail.as_deref().unwrap();
    assert!(!text.contains("Student "), "{text}");
    for c in s["caseload"].as_array().unwrap() {
        assert!(!text.contains(c["name"].as_str().unwrap()), "{text}");
    }
    // The ledger holds the released month figures and the total, with their
    // values, so later statistics queries are protected against them.
    let rows = entity::statistics_release::Entity::find()
        .filter(
            entity::statistics_release::Column::ReleaseId.eq(Uuid::parse_str(&release).unwrap()),
        )
        .all(&app.db)
        .await
        .unwrap();
    let mut values: Vec<i64> = rows.iter().map(|r| r.value).collect();
    let mut shown: Vec<i64> = s["waitingTimes"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&s["waitingTotal"]])
        .filter_map(|r| r["cases"].as_i64())
        .collect();
    values.sort_unstable();
    shown.sort_unstable();
    assert_eq!(values, shown);
    assert!(rows
        .iter()
        .all(|r| r.caller_id == lead && r.measure == "CASES"));
    // A statistics query of the two populated months is withheld: with the
    // released twelve-month total in the ledger, the difference would be
    // the demo's one other counselling case (Alice's, two months ago).
    let res = app
        .as_caller(
            lead,
            Role::ServiceLead,
            r#"query($f: StatisticsFilter) { statistics(measure: CASES, filter: $f) { total { count } } }"#,
            json!({ "f": { "openedFrom": month_text(month_ago(5)), "openedTo": month_text(month_ago(4)) } }),
        )
        .await;
    res.assert_no_errors();
    assert!(
        res.data()["statistics"]["total"]["count"].is_null(),
        "15 out of a released total of 16: {:#}",
        res.body
    );
}

#[tokio::test]
async fn a_request_cannot_ask_for_many_monitoring_views_under_aliases() {
    let app = spawn_app().await;
    let aliased = |n: usize| -> String {
        let views: String = (0..n)
            .map(|i| format!("m{i}: monitoring {{ releaseId }} "))
            .collect();
        format!("{{ {views} }}")
    };
    let res = app
        .as_caller(app.demo.dpo, Role::Dpo, &aliased(4), json!({}))
        .await;
    res.assert_no_errors();
    let res = app
        .as_caller(app.demo.dpo, Role::Dpo, &aliased(5), json!({}))
        .await;
    assert_eq!(res.codes(), vec!["QUERY_TOO_COSTLY"], "{:#}", res.body);
    assert_eq!(
        audit(&app).await.len(),
        4,
        "nothing ran for the refused request"
    );
}
