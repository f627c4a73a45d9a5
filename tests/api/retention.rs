//! Retention and erasure (issue 10, item 5, and the erasure half of item 6):
//! the retention schedule and its report (GraphQL and `confide retention
//! report`), the purge (`confide retention purge`), legal holds and erasure
//! requests, on a real database through real HTTP and the real binary.

use crate::helpers::{id, spawn_app, Gql, TestApp};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use confide::domain::Role;
use confide::service::audit::{self, Verification};
use entity::{audit_event, enrolment, note, student, support_case, third_party_entry};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Set,
    Statement,
};
use serde_json::{json, Value};
use uuid::Uuid;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date(text).and_hms_opt(10, 0, 0).unwrap())
}

/// A former student: their enrolments (`None`: still open), one case in
/// `service` whose last contact (a note and a third-party entry) was on
/// `last_contact`, every text of theirs marked with `marker`.
struct Leaver<'a> {
    marker: &'a str,
    enrolments: &'a [(&'a str, Option<&'a str>)],
    service: &'a str,
    last_contact: &'a str,
    case_open: bool,
}

struct Seeded {
    student: Uuid,
    case: Uuid,
    name: String,
    email: String,
    number: String,
    note_body: String,
    third_party_body: String,
}

async fn seed_leaver(app: &TestApp, l: Leaver<'_>) -> Seeded {
    let student = Uuid::new_v4();
    let m = l.marker;
    let name = format!("Retention {m} Person");
    let email = format!("retention.{}@uni.example", m.to_lowercase());
    let number = format!("RT{m}");
    let start = at("2012-09-01");
    student::ActiveModel {
        id: Set(student),
        student_number: Set(number.clone()),
        name: Set(name.clone()),
        preferred_name: Set(Some(format!("Ret{m}"))),
        email: Set(email.clone()),
        phone: Set(Some(format!("07700 9{m}"))),
        term_address: Set(Some(format!("{m} Term Street"))),
        home_address: Set(Some(format!("{m} Home Road"))),
        date_of_birth: Set(Some(date("1995-03-04"))),
        department: Set("history".into()),
        course: Set("BA History".into()),
        emergency_contact: Set(Some(format!("Parent of {m}"))),
        gp_practice: Set(Some(format!("{m} Surgery"))),
        processing_restricted: Set(false),
        created_at: Set(start),
        updated_at: Set(start),
    }
    .insert(&app.db)
    .await
    .unwrap();
    for (starts, ends) in l.enrolments {
        enrolment::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(student),
            starts_on: Set(date(starts)),
            ends_on: Set(ends.map(date)),
            created_at: Set(start),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    let contact = at(l.last_contact);
    let opened = contact - Duration::days(60);
    let case = Uuid::new_v4();
    support_case::ActiveModel {
        id: Set(case),
        student_id: Set(student),
        service: Set(l.service.into()),
        status: Set(if l.case_open { "open" } else { "closed" }.into()),
        opened_at: Set(opened),
        closed_at: Set((!l.case_open).then_some(contact)),
        assigned_to: Set(None),
        summary: Set(Some(format!("Summary about {m}"))),
        adjustments: Set(Some(format!("Adjustments for {m}"))),
        risk_level: Set("low".into()),
        created_at: Set(opened),
        updated_at: Set(contact),
    }
    .insert(&app.db)
    .await
    .unwrap();
    let note_body = format!("Note body about {m}: discussed exam anxiety");
    for (n, when) in [(1, opened), (2, contact)] {
        note::ActiveModel {
            id: Set(Uuid::new_v4()),
            case_id: Set(case),
            kind: Set("meeting".into()),
            occurred_at: Set(when),
            author_id: Set(app.demo.counsellor),
            body: Set(format!("{note_body} ({n})")),
            labels: Set(json!(["MENTAL_HEALTH"])),
            created_at: Set(when),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    let third_party_body = format!("Flatmate of {m} reported worries");
    third_party_entry::ActiveModel {
        id: Set(Uuid::new_v4()),
        case_id: Set(case),
        source: Set(format!("Flatmate of {m}")),
        subject: Set(format!("Flatmate of {m}")),
        body: Set(third_party_body.clone()),
        third_party_consented: Set(false),
        disclosure_justification: Set(None),
        recorded_by: Set(app.demo.counsellor),
        created_at: Set(contact),
    }
    .insert(&app.db)
    .await
    .unwrap();
    Seeded {
        student,
        case,
        name,
        email,
        number,
        note_body,
        third_party_body,
    }
}

const DUE: &str =
    r#"query($asOf: NaiveDate) { retentionDue(asOf: $asOf) { id dueOn rule reason held } }"#;

async fn due_as_of(app: &TestApp, as_of: &str) -> Vec<Value> {
    let res = app
        .as_caller(app.demo.dpo, Role::Dpo, DUE, json!({ "asOf": as_of }))
        .await;
    res.assert_no_errors();
    res.data()["retentionDue"].as_array().unwrap().clone()
}

async fn entry_for(app: &TestApp, as_of: &str, student: Uuid) -> Option<Value> {
    due_as_of(app, as_of)
        .await
        .into_iter()
        .find(|e| e["id"] == id(student))
}

/// The real binary, as an operator runs it.
fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_confide"))
        .args(args)
        .args(["--database-url", &app.db_url])
        .output()
        .expect("run confide");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn cli_report(app: &TestApp, as_of: &str) -> String {
    let (ok, out) = cli(app, &["retention", "report", "--as-of", as_of]);
    assert!(ok, "{out}");
    out
}

fn cli_purge(app: &TestApp, as_of: &str) -> String {
    let (ok, out) = cli(app, &["retention", "purge", "--as-of", as_of, "--quiet"]);
    assert!(ok, "{out}");
    out
}

async fn exists(app: &TestApp, student: Uuid) -> bool {
    student::Entity::find_by_id(student)
        .one(&app.db)
        .await
        .unwrap()
        .is_some()
}

async fn chain_verifies(app: &TestApp) {
    match audit::verify(&app.db).await.unwrap() {
        Verification::Verified { records } => assert!(records > 0),
        Verification::Broken(link) => panic!("audit chain broken at {link}"),
    }
    let (ok, out) = cli(app, &["audit", "verify"]);
    assert!(ok && out.starts_with("audit chain verified"), "{out}");
}

async fn tombstones(app: &TestApp, student: Uuid) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::StudentId.eq(student))
        .filter(audit_event::Column::Action.eq("destroyed"))
        .all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_student_who_left_on_2019_07_31_is_due_on_2025_07_31_and_not_before() {
    let app = spawn_app().await;
    let s = seed_leaver(
        &app,
        Leaver {
            marker: "A1",
            enrolments: &[("2016-09-26", Some("2019-07-31"))],
            service: "disability",
            last_contact: "2019-05-01",
            case_open: false,
        },
    )
    .await;
    assert!(entry_for(&app, "2025-07-30", s.student).await.is_none());
    let e = entry_for(&app, "2025-07-31", s.student).await.unwrap();
    assert_eq!(e["dueOn"], "2025-07-31");
    assert_eq!(e["rule"], "last_enrolment_six_years");
    assert_eq!(e["held"], false);
    assert!(e["reason"].as_str().unwrap().contains("2019-07-31"));
    // The demo students are enrolled: never due.
    assert!(entry_for(&app, "2100-01-01", app.demo.alice)
        .await
        .is_none());
    // The command line reports the same.
    let student = s.student.to_string();
    assert!(!cli_report(&app, "2025-07-30").contains(&student));
    let line = cli_report(&app, "2025-07-31");
    let line = line.lines().find(|l| l.starts_with(&student)).unwrap();
    assert!(
        line.contains("2025-07-31\tlast_enrolment_six_years\t-"),
        "{line}"
    );
    // Each record's date, for the subject access export.
    let schedule = confide::service::retention::schedule(&app.db, s.student)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(schedule.record.on, Some(date("2025-07-31")));
    assert_eq!(schedule.cases[0].case_id, s.case);
    assert_eq!(schedule.cases[0].due.on, Some(date("2025-07-31")));
}

#[tokio::test]
async fn a_student_who_re_enrolled_and_left_on_2022_07_31_is_not_due_before_2028_07_31() {
    let app = spawn_app().await;
    let s = seed_leaver(
        &app,
        Leaver {
            marker: "B2",
            enrolments: &[
                ("2016-09-26", Some("2019-07-31")),
                ("2020-09-28", Some("2022-07-31")),
            ],
            service: "disability",
            last_contact: "2021-11-15",
            case_open: false,
        },
    )
    .await;
    assert!(entry_for(&app, "2025-07-31", s.student).await.is_none());
    assert!(entry_for(&app, "2028-07-30", s.student).await.is_none());
    let e = entry_for(&app, "2028-07-31", s.student).await.unwrap();
    assert_eq!(e["dueOn"], "2028-07-31");
    // A purge the day before destroys nothing of theirs.
    cli_purge(&app, "2028-07-30");
    assert!(exists(&app, s.student).await);
    assert!(tombstones(&app, s.student).await.is_empty());
    // A dry run on the day lists them and destroys nothing.
    let (ok, out) = cli(
        &app,
        &["retention", "purge", "--as-of", "2028-07-31", "--dry-run"],
    );
    assert!(ok, "{out}");
    assert!(out.contains(&s.student.to_string()), "{out}");
    assert!(out.contains("dry run: 1 would be destroyed"), "{out}");
    assert!(exists(&app, s.student).await);
    cli_purge(&app, "2028-07-31");
    assert!(!exists(&app, s.student).await);
}

#[tokio::test]
async fn a_configured_service_keeps_a_case_seven_years_after_the_end_of_the_academic_year_of_last_contact(
) {
    let app = spawn_app().await;
    let s = seed_leaver(
        &app,
        Leaver {
            marker: "C3",
            enrolments: &[("2012-09-24", Some("2015-07-31"))],
            service: "counselling",
            last_contact: "2019-03-10",
            case_open: false,
        },
    )
    .await;
    // Unconfigured: the case follows the student record (six years after 2015-07-31).
    let e = entry_for(&app, "2021-07-31", s.student).await.unwrap();
    assert_eq!(e["rule"], "last_enrolment_six_years");
    let (ok, out) = cli(
        &app,
        &[
            "retention",
            "rule",
            "--service",
            "counselling",
            "--rule",
            "last_contact_seven_years",
        ],
    );
    assert!(ok, "{out}");
    // Last contact 2019-03-10: academic year ends 2019-07-31; seven years on, 2026-07-31.
    assert!(entry_for(&app, "2021-07-31", s.student).await.is_none());
    assert!(entry_for(&app, "2026-07-30", s.student).await.is_none());
    let e = entry_for(&app, "2026-07-31", s.student).await.unwrap();
    assert_eq!(e["dueOn"], "2026-07-31");
    assert_eq!(e["rule"], "last_contact_seven_years");
    let schedule = confide::service::retention::schedule(&app.db, s.student)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(schedule.record.on, Some(date("2021-07-31")));
    assert_eq!(schedule.cases[0].due.on, Some(date("2026-07-31")));
    assert_eq!(schedule.due.on, Some(date("2026-07-31")));
    cli_purge(&app, "2026-07-30");
    assert!(exists(&app, s.student).await);
    cli_purge(&app, "2026-07-31");
    assert!(!exists(&app, s.student).await);
}

const HOLD: &str = r#"mutation($studentId: ID!, $reason: String!) {
    placeLegalHold(studentId: $studentId, reason: $reason) { id studentId reason active }
}"#;
const LIFT_HOLD: &str = r#"mutation($id: ID!, $reason: String!) {
    liftLegalHold(id: $id, reason: $reason) { id active liftedAt liftReason }
}"#;

#[tokio::test]
async fn a_legal_hold_blocks_destruction() {
    let app = spawn_app().await;
    let s = seed_leaver(
        &app,
        Leaver {
            marker: "D4",
            enrolments: &[("2006-09-25", Some("2009-07-31"))],
            service: "wellbeing",
            last_contact: "2009-02-02",
            case_open: false,
        },
    )
    .await;
    // Nobody but the DPO places one.
    for (who, role) in [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.counselling_lead, Role::ServiceLead),
        (s.student, Role::Student),
    ] {
        let res = app
            .as_caller(
                who,
                role,
                HOLD,
                json!({ "studentId": id(s.student), "reason": "Litigation." }),
            )
            .await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{:#}", res.body);
    }
    let res = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            HOLD,
            json!({ "studentId": id(s.student), "reason": "Hold D4: claim against the university." }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["placeLegalHold"]["active"], true);
    let hold = res.data()["placeLegalHold"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let e = entry_for(&app, "2026-11-26", s.student).await.unwrap();
    assert_eq!(e["held"], true);
    let line = cli_report(&app, "2026-11-26");
    assert!(
        line.lines()
            .any(|l| l.starts_with(&s.student.to_string()) && l.contains("\theld\t")),
        "{line}"
    );
    let out = cli_purge(&app, "2026-11-26");
    assert!(out.contains("1 held"), "{out}");
    assert!(exists(&app, s.student).await);
    // Nor is an erasure granted while held.
    let request = request_erasure(&app, (s.student, Role::Student), s.student).await;
    request.assert_no_errors();
    let request = request.data()["requestErasure"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = grant(&app, &request).await;
    assert_eq!(res.codes(), vec!["CONFLICT"], "{:#}", res.body);
    assert!(exists(&app, s.student).await);

    let res = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            LIFT_HOLD,
            json!({ "id": hold, "reason": "Claim settled." }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["liftLegalHold"]["active"], false);
    let out = cli_purge(&app, "2026-11-26");
    assert!(out.contains("destroyed 1 students"), "{out}");
    assert!(!exists(&app, s.student).await);
    chain_verifies(&app).await;
}

/// Every (table, column) of the database, `registered_operation` included:
/// the test helper registers only documents sent by outside audiences, which
/// never carry a student's details written by staff.
async fn columns(app: &TestApp) -> Vec<(String, String)> {
    all_columns(app).await
}

/// Every (table, column) of the database.
async fn all_columns(app: &TestApp) -> Vec<(String, String)> {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = current_schema()"
        }
        _ => {
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p WHERE m.type = 'table'"
        }
    };
    let rows = app
        .db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get::<String>("", "t").unwrap(),
                r.try_get::<String>("", "c").unwrap(),
            )
        })
        .collect()
}

/// Every (table, column) where `needle` occurs, in any column of any table.
async fn occurrences(app: &TestApp, cols: &[(String, String)], needle: &str) -> Vec<String> {
    let backend = app.db.get_database_backend();
    let mut found = Vec::new();
    for (t, c) in cols {
        let sql = match backend {
            DbBackend::Postgres => {
                format!("SELECT COUNT(*) AS n FROM \"{t}\" WHERE CAST(\"{c}\" AS TEXT) LIKE $1")
            }
            _ => format!("SELECT COUNT(*) AS n FROM \"{t}\" WHERE CAST(\"{c}\" AS TEXT) LIKE ?"),
        };
        let row = app
            .db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [format!("%{needle}%").into()],
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        if n > 0 {
            found.push(format!("{t}.{c} ({n})"));
        }
    }
    found
}

/// One record of every other workflow about the student (written directly,
/// as the walk does), each with its free text marked with `m`.
async fn seed_workflow_records(app: &TestApp, student: Uuid, case: Uuid, m: &str) {
    let now = Utc::now();
    let long_ago = at("2013-05-01");
    entity::consent::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student),
        recipient_kind: Set("partner".into()),
        recipient_ref: Set(Some(app.demo.gp_practice.to_string())),
        categories: Set(json!(["IDENTITY"])),
        excluded_labels: Set(json!([])),
        case_id: Set(Some(case)),
        purpose: Set(format!("Consent purpose {m}")),
        given_at: Set(long_ago),
        expires_at: Set(Some(long_ago + Duration::days(30))),
        form_reference: Set(Some(format!("F-{m}"))),
        recorded_by: Set(app.demo.counsellor),
        recorded_by_role: Set("practitioner".into()),
        withdrawn_at: Set(None),
        withdrawn_by: Set(None),
        withdrawal_reason: Set(None),
        created_at: Set(long_ago),
    }
    .insert(&app.db)
    .await
    .unwrap();
    let exception = Uuid::new_v4();
    entity::risk_exception::ActiveModel {
        id: Set(exception),
        student_id: Set(student),
        ground: Set("safeguarding".into()),
        student_position: Set("refused".into()),
        recipients: Set(json!([{ "kind": "partner", "ref": app.demo.nhs_trust.to_string() }])),
        categories: Set(json!(["IDENTITY"])),
        justification: Set(format!("Exception justification {m}")),
        proposed_by: Set(app.demo.mental_health_adviser),
        proposed_at: Set(long_ago),
        confirmed_by: Set(Some(app.demo.counsellor)),
        confirmed_at: Set(Some(long_ago)),
        expires_at: Set(long_ago + Duration::hours(72)),
        revoked_at: Set(None),
        revoked_by: Set(None),
        student_informed_at: Set(Some(long_ago)),
        not_informed_reason: Set(None),
        concern_notice: Set(Some(format!("Concern notice {m}"))),
        created_at: Set(long_ago),
    }
    .insert(&app.db)
    .await
    .unwrap();
    entity::risk_exception_recipient::ActiveModel {
        id: Set(Uuid::new_v4()),
        risk_exception_id: Set(exception),
        student_id: Set(student),
        recipient_kind: Set("partner".into()),
        recipient_ref: Set(Some(app.demo.nhs_trust.to_string())),
    }
    .insert(&app.db)
    .await
    .unwrap();
    entity::emergency_disclosure::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student),
        disclosed_by: Set(app.demo.counsellor),
        recipient: Set(format!("Ambulance for {m}")),
        method: Set("telephone".into()),
        categories: Set(json!(["IDENTITY"])),
        reason: Set(format!("Collapsed {m}")),
        occurred_at: Set(long_ago),
        review_due_at: Set(long_ago + Duration::days(2)),
        reviewed_by: Set(Some(app.demo.mental_health_adviser)),
        reviewed_at: Set(Some(long_ago)),
        review_outcome: Set(Some(format!("Proportionate {m}"))),
        student_informed_at: Set(Some(long_ago)),
        not_informed_reason: Set(None),
        created_at: Set(long_ago),
    }
    .insert(&app.db)
    .await
    .unwrap();
    entity::emergency_access::ActiveModel {
        id: Set(Uuid::new_v4()),
        case_id: Set(case),
        student_id: Set(student),
        staff_id: Set(app.demo.disability_adviser),
        service: Set("counselling".into()),
        reason: Set(format!("Break glass {m}")),
        opened_at: Set(long_ago),
        expires_at: Set(long_ago + Duration::hours(1)),
        reviewed_by: Set(Some(app.demo.counselling_lead)),
        reviewed_at: Set(Some(long_ago)),
    }
    .insert(&app.db)
    .await
    .unwrap();
    entity::legal_authority::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student),
        kind: Set("court_order".into()),
        reference: Set(format!("Order {m} v University")),
        issuer: Set("County Court".into()),
        recipient_kind: Set("partner".into()),
        recipient_ref: Set(app.demo.nhs_trust.to_string()),
        categories: Set(json!(["IDENTITY"])),
        case_id: Set(Some(case)),
        recorded_at: Set(long_ago),
        recorded_by: Set(app.demo.dpo),
        expires_at: Set(long_ago + Duration::days(1)),
        revoked_at: Set(None),
        revoked_by: Set(None),
        inform_forbidden: Set(false),
        student_informed_at: Set(Some(long_ago)),
        not_informed_reason: Set(None),
    }
    .insert(&app.db)
    .await
    .unwrap();
    entity::disclosure_record::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student),
        recipient: Set(format!("Recipient {m} mother")),
        method: Set("telephone".into()),
        occurred_at: Set(long_ago),
        recorded_by: Set(app.demo.counsellor),
        recorded_at: Set(now),
    }
    .insert(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn after_a_purge_no_personal_data_of_the_student_remains_in_any_table_the_tombstone_does_and_the_chain_verifies(
) {
    let app = spawn_app().await;
    let s = seed_leaver(
        &app,
        Leaver {
            marker: "E5",
            enrolments: &[("2010-09-27", Some("2013-07-31"))],
            service: "counselling",
            last_contact: "2013-06-20",
            case_open: false,
        },
    )
    .await;
    let kept = seed_leaver(
        &app,
        Leaver {
            marker: "F6",
            enrolments: &[("2024-09-23", None)],
            service: "counselling",
            last_contact: "2025-01-10",
            case_open: false,
        },
    )
    .await;
    // Through the API: a read (audited), a correction (history), a
    // restriction and a lifted legal hold, each with its free text.
    let read = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            r#"query($id: ID!) { student(id: $id) { name email phone cases { summary notes { body } } } }"#,
            json!({ "id": id(s.student) }),
        )
        .await;
    read.assert_no_errors();
    assert_eq!(read.data()["student"]["name"], s.name.as_str());
    let corrected = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            r#"mutation($id: ID!) { updateStudent(id: $id, input: { phone: "07700 E5E5E5" }, reason: "Correction E5 asked by the student") { id } }"#,
            json!({ "id": id(s.student) }),
        )
        .await;
    corrected.assert_no_errors();
    let restricted = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            r#"mutation($id: ID!) { restrictProcessing(studentId: $id, reason: "Restriction E5 contested accuracy") { id } }"#,
            json!({ "id": id(s.student) }),
        )
        .await;
    restricted.assert_no_errors();
    let held = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            HOLD,
            json!({ "studentId": id(s.student), "reason": "Hold E5 pending enquiry" }),
        )
        .await;
    held.assert_no_errors();
    let hold = held.data()["placeLegalHold"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.as_caller(
        app.demo.dpo,
        Role::Dpo,
        LIFT_HOLD,
        json!({ "id": hold, "reason": "Lift E5 enquiry closed" }),
    )
    .await
    .assert_no_errors();

    seed_workflow_records(&app, s.student, s.case, "E5").await;

    let cols = columns(&app).await;
    let needles = [
        "Consent purpose E5".to_owned(),
        "Exception justification E5".to_owned(),
        "Concern notice E5".to_owned(),
        "Ambulance for E5".to_owned(),
        "Break glass E5".to_owned(),
        "Order E5 v University".to_owned(),
        "Recipient E5 mother".to_owned(),
        s.name.clone(),
        s.email.clone(),
        s.number.clone(),
        s.note_body.clone(),
        s.third_party_body.clone(),
        "Flatmate of E5".to_owned(),
        "E5 Term Street".to_owned(),
        "07700 E5E5E5".to_owned(),
        "Correction E5".to_owned(),
        "Restriction E5".to_owned(),
        "Hold E5".to_owned(),
        "Lift E5".to_owned(),
    ];
    for needle in &needles {
        assert!(
            !occurrences(&app, &cols, needle).await.is_empty(),
            "the fixture holds {needle}"
        );
    }
    let out = cli_purge(&app, "2026-11-26");
    assert!(out.contains("destroyed 1 students"), "{out}");

    for needle in &needles {
        let found = occurrences(&app, &cols, needle).await;
        assert!(found.is_empty(), "{needle} remains in {found:?}");
    }
    // Every row naming the student or their case is gone, except the audit trail.
    for (t, c) in &cols {
        if t == "audit_event" || !(c == "student_id" || c == "case_id") {
            continue;
        }
        for target in [s.student, s.case] {
            let found = occurrences(&app, &[(t.clone(), c.clone())], &target.to_string()).await;
            assert!(found.is_empty(), "{target} remains in {found:?}");
        }
    }
    // The student who is not due keeps everything.
    assert!(!occurrences(&app, &cols, &kept.name).await.is_empty());
    assert!(!occurrences(&app, &cols, &kept.note_body).await.is_empty());
    assert!(exists(&app, kept.student).await);

    let stones = tombstones(&app, s.student).await;
    assert_eq!(stones.len(), 1);
    let stone = &stones[0];
    assert_eq!(
        stone.basis.as_deref(),
        Some("retention:last_enrolment_six_years")
    );
    let detail: Value = serde_json::from_str(stone.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["rule"], "last_enrolment_six_years");
    assert_eq!(detail["dueOn"], "2019-07-31");
    assert_eq!(detail["destroyed"]["student"], 1);
    assert_eq!(detail["destroyed"]["note"], 2);
    assert_eq!(detail["destroyed"]["third_party_entry"], 1);
    assert_eq!(detail["destroyed"]["restriction"], 1);
    assert_eq!(detail["destroyed"]["legal_hold"], 1);
    for table in [
        "consent",
        "risk_exception",
        "risk_exception_recipient",
        "emergency_disclosure",
        "emergency_access",
        "legal_authority",
        "disclosure_record",
        "student_change",
        "enrolment",
        "support_case",
    ] {
        assert_eq!(detail["destroyed"][table], 1, "{table}: {detail}");
    }
    chain_verifies(&app).await;
    // A re-run finds nothing more to do.
    let out = cli_purge(&app, "2026-11-26");
    assert!(out.contains("destroyed 0 students"), "{out}");
    chain_verifies(&app).await;
}

const REQUEST: &str = r#"mutation($studentId: ID!, $grounds: String) {
    requestErasure(studentId: $studentId, grounds: $grounds) { id studentId status grounds requestedByRole }
}"#;
const GRANT: &str =
    r#"mutation($id: ID!) { grantErasureRequest(id: $id) { id status decidedAt } }"#;
const REFUSE: &str = r#"mutation($id: ID!, $reason: String!) {
    refuseErasureRequest(id: $id, reason: $reason) { id status refusalReason }
}"#;
const MINE: &str = r#"{ myErasureRequests { id status grounds refusalReason } }"#;
const OPEN_REQUESTS: &str = r#"{ erasureRequests { id studentId status } }"#;

async fn request_erasure(app: &TestApp, by: (Uuid, Role), student: Uuid) -> Gql {
    app.as_caller(
        by.0,
        by.1,
        REQUEST,
        json!({ "studentId": id(student), "grounds": "Grounds G7: I no longer use the service." }),
    )
    .await
}

async fn grant(app: &TestApp, request: &str) -> Gql {
    app.as_caller(app.demo.dpo, Role::Dpo, GRANT, json!({ "id": request }))
        .await
}

#[tokio::test]
async fn an_erasure_request_granted_destroys_the_student() {
    let app = spawn_app().await;
    let s = seed_leaver(
        &app,
        Leaver {
            marker: "G7",
            enrolments: &[("2024-09-23", None)],
            service: "counselling",
            last_contact: "2025-02-03",
            case_open: false,
        },
    )
    .await;
    let res = request_erasure(&app, (s.student, Role::Student), s.student).await;
    res.assert_no_errors();
    let r = &res.data()["requestErasure"];
    assert_eq!(r["status"], "OPEN");
    assert_eq!(r["requestedByRole"], "student");
    let request = r["id"].as_str().unwrap().to_owned();
    // A second while it is open: CONFLICT.
    let again = request_erasure(&app, (s.student, Role::Student), s.student).await;
    assert_eq!(again.codes(), vec!["CONFLICT"]);
    let mine = app
        .as_caller(s.student, Role::Student, MINE, json!({}))
        .await;
    mine.assert_no_errors();
    assert_eq!(mine.data()["myErasureRequests"][0]["id"], request.as_str());
    assert_eq!(mine.data()["myErasureRequests"][0]["status"], "OPEN");
    let open = app
        .as_caller(app.demo.dpo, Role::Dpo, OPEN_REQUESTS, json!({}))
        .await;
    open.assert_no_errors();
    assert!(open.data()["erasureRequests"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == request.as_str() && r["studentId"] == id(s.student)));

    let res = grant(&app, &request).await;
    res.assert_no_errors();
    assert_eq!(res.data()["grantErasureRequest"]["status"], "GRANTED");
    assert!(!exists(&app, s.student).await);
    let cols = columns(&app).await;
    for needle in [&s.name, &s.email, &s.note_body, &"Grounds G7".to_owned()] {
        let found = occurrences(&app, &cols, needle).await;
        assert!(found.is_empty(), "{needle} remains in {found:?}");
    }
    let stones = tombstones(&app, s.student).await;
    assert_eq!(stones.len(), 1);
    assert_eq!(
        stones[0].basis.as_deref(),
        Some(format!("erasure_request:{request}").as_str())
    );
    assert!(stones[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("erasure_request"));
    let granted = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("erasure_granted"))
        .filter(audit_event::Column::StudentId.eq(s.student))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(granted.len(), 1);
    // Decided once.
    assert_ne!(grant(&app, &request).await.codes(), Vec::<String>::new());
    chain_verifies(&app).await;
}

#[tokio::test]
async fn an_erasure_request_refused_keeps_the_record_and_records_the_reason() {
    let app = spawn_app().await;
    let alice = app.demo.alice;
    // The DPO may open one on the student's behalf.
    let res = request_erasure(&app, (app.demo.dpo, Role::Dpo), alice).await;
    res.assert_no_errors();
    assert_eq!(res.data()["requestErasure"]["requestedByRole"], "dpo");
    let request = res.data()["requestErasure"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reason = "Refusal R8: records needed for an ongoing safeguarding matter.";
    let res = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            REFUSE,
            json!({ "id": request, "reason": reason }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["refuseErasureRequest"]["status"], "REFUSED");
    assert_eq!(res.data()["refuseErasureRequest"]["refusalReason"], reason);
    assert!(exists(&app, alice).await);
    let mine = app.as_caller(alice, Role::Student, MINE, json!({})).await;
    mine.assert_no_errors();
    assert_eq!(mine.data()["myErasureRequests"][0]["status"], "REFUSED");
    assert_eq!(mine.data()["myErasureRequests"][0]["refusalReason"], reason);
    // Decided: no longer open, and not granted afterwards.
    let open = app
        .as_caller(app.demo.dpo, Role::Dpo, OPEN_REQUESTS, json!({}))
        .await;
    assert_eq!(open.data()["erasureRequests"], json!([]));
    assert_eq!(grant(&app, &request).await.codes(), vec!["CONFLICT"]);
    assert!(exists(&app, alice).await);
    // The reason is in the request, not in the audit trail.
    let cols = columns(&app).await;
    let found = occurrences(&app, &cols, "Refusal R8").await;
    assert_eq!(found, vec!["erasure_request.refusal_reason (1)".to_owned()]);
    let found = occurrences(&app, &cols, "Grounds G7").await;
    assert_eq!(found, vec!["erasure_request.grounds (1)".to_owned()]);
}

#[tokio::test]
async fn a_student_cannot_request_erasure_for_someone_else() {
    let app = spawn_app().await;
    let res = request_erasure(&app, (app.demo.alice, Role::Student), app.demo.bob).await;
    assert!(res.data()["requestErasure"].is_null());
    assert_eq!(res.codes(), vec!["NOT_FOUND"], "{:#}", res.body);
    // Nor may staff other than the DPO request one.
    let res = request_erasure(
        &app,
        (app.demo.counsellor, Role::Practitioner),
        app.demo.bob,
    )
    .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"], "{:#}", res.body);
    assert_eq!(app.count("erasure_request").await, 0);
    // Bob's requests are not Alice's.
    request_erasure(&app, (app.demo.bob, Role::Student), app.demo.bob)
        .await
        .assert_no_errors();
    let mine = app
        .as_caller(app.demo.alice, Role::Student, MINE, json!({}))
        .await;
    assert_eq!(mine.data()["myErasureRequests"], json!([]));
}

#[tokio::test]
async fn nobody_but_the_dpo_decides_an_erasure_request_or_reads_the_retention_report() {
    let app = spawn_app().await;
    let res = request_erasure(&app, (app.demo.bob, Role::Student), app.demo.bob).await;
    res.assert_no_errors();
    let request = res.data()["requestErasure"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (who, role) in [
        (app.demo.bob, Role::Student),
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.counselling_lead, Role::ServiceLead),
        (app.demo.reception, Role::Reception),
        (app.demo.admin, Role::Admin),
    ] {
        let res = app
            .as_caller(who, role, GRANT, json!({ "id": request }))
            .await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role:?}: {:#}", res.body);
        let res = app
            .as_caller(who, role, REFUSE, json!({ "id": request, "reason": "No." }))
            .await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role:?}: {:#}", res.body);
        let res = app.as_caller(who, role, OPEN_REQUESTS, json!({})).await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role:?}: {:#}", res.body);
        let res = app
            .as_caller(who, role, DUE, json!({ "asOf": "2100-01-01" }))
            .await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role:?}: {:#}", res.body);
    }
    assert!(exists(&app, app.demo.bob).await);
    let open = app
        .as_caller(app.demo.dpo, Role::Dpo, OPEN_REQUESTS, json!({}))
        .await;
    assert_eq!(open.data()["erasureRequests"][0]["status"], "OPEN");
}

/// The purge rate (BENCHMARKS.md, "Retention purge"): 1,000 due students, each
/// with an enrolment that ended long ago, a closed case and two notes, purged
/// by the same function as `confide retention purge` (one transaction per
/// student, tombstone included). Prints students per second.
///
/// `cargo test --release --test api purge_rate -- --ignored --nocapture`
/// (PostgreSQL: with `CONFIDE_TEST_DATABASE_URL`; `PURGE_STUDENTS` to change 1,000).
#[tokio::test]
#[ignore]
async fn purge_rate_for_1000_due_students() {
    let app = spawn_app().await;
    let n: usize = std::env::var("PURGE_STUDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let long_ago = at("2012-06-01");
    let mut ids = Vec::with_capacity(n);
    for chunk in 0..n.div_ceil(200) {
        let mut students = Vec::new();
        let mut enrolments = Vec::new();
        let mut cases = Vec::new();
        let mut notes = Vec::new();
        for i in chunk * 200..((chunk + 1) * 200).min(n) {
            let s = Uuid::new_v4();
            let c = Uuid::new_v4();
            ids.push(s);
            students.push(student::ActiveModel {
                id: Set(s),
                student_number: Set(format!("PURGE{i:06}")),
                name: Set(format!("Purge Student {i}")),
                preferred_name: Set(None),
                email: Set(format!("purge{i}@uni.example")),
                phone: Set(Some("07700 900000".into())),
                term_address: Set(None),
                home_address: Set(None),
                date_of_birth: Set(None),
                department: Set("history".into()),
                course: Set("BA History".into()),
                emergency_contact: Set(None),
                gp_practice: Set(None),
                processing_restricted: Set(false),
                created_at: Set(long_ago),
                updated_at: Set(long_ago),
            });
            enrolments.push(enrolment::ActiveModel {
                id: Set(Uuid::new_v4()),
                student_id: Set(s),
                starts_on: Set(date("2009-09-28")),
                ends_on: Set(Some(date("2012-07-31"))),
                created_at: Set(long_ago),
            });
            cases.push(support_case::ActiveModel {
                id: Set(c),
                student_id: Set(s),
                service: Set("counselling".into()),
                status: Set("closed".into()),
                opened_at: Set(long_ago),
                closed_at: Set(Some(long_ago)),
                assigned_to: Set(None),
                summary: Set(Some("Purge summary".into())),
                adjustments: Set(None),
                risk_level: Set("none".into()),
                created_at: Set(long_ago),
                updated_at: Set(long_ago),
            });
            for k in 0..2 {
                notes.push(note::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    case_id: Set(c),
                    kind: Set("meeting".into()),
                    occurred_at: Set(long_ago),
                    author_id: Set(app.demo.counsellor),
                    body: Set(format!("Purge note {k} of student {i}")),
                    labels: Set(json!([])),
                    created_at: Set(long_ago),
                });
            }
        }
        student::Entity::insert_many(students)
            .exec(&app.db)
            .await
            .unwrap();
        enrolment::Entity::insert_many(enrolments)
            .exec(&app.db)
            .await
            .unwrap();
        support_case::Entity::insert_many(cases)
            .exec(&app.db)
            .await
            .unwrap();
        note::Entity::insert_many(notes)
            .exec(&app.db)
            .await
            .unwrap();
    }
    let as_of = date("2026-11-26");
    let started = std::time::Instant::now();
    let summary = confide::cli::retention::purge(&app.db, as_of, false, false)
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(summary.destroyed, n as u64);
    assert_eq!(summary.records, (n * 5) as u64);
    for s in ids.iter().take(5) {
        assert!(!exists(&app, *s).await);
    }
    chain_verifies(&app).await;
    eprintln!(
        "purge ({}): {n} students ({} records) in {secs:.2}s = {:.0} students/s",
        app.db_url.split(':').next().unwrap_or("?"),
        summary.records,
        n as f64 / secs
    );
}

#[tokio::test]
async fn the_purge_clears_every_table_that_holds_a_student_id_or_a_case_id() {
    let app = spawn_app().await;
    let mut missing: Vec<String> = columns(&app)
        .await
        .into_iter()
        .filter(|(t, c)| (c == "student_id" || c == "case_id") && t != "audit_event")
        .map(|(t, _)| t)
        .filter(|t| !confide::service::destruction::TABLES.contains(&t.as_str()))
        .collect();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "tables about students that destruction::destroy does not clear: {missing:?}"
    );
}
