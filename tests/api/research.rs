//! The research extract (issue 11, item 3): only research-consented students,
//! no identifying field, k for every released combination, new pseudonyms in
//! a new extract, months not dates, analysts only, audited, and the CLI.

use crate::helpers::{id, spawn_app, spawn_app_with, TestApp};
use chrono::{Duration, NaiveDate, Utc};
use confide::domain::Role;
use confide::research::extract::COLUMNS;
use confide::research::output::Format;
use entity::{audit_event, consent, enrolment, note, student, support_case};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use uuid::Uuid;

const EXTRACT: &str = r#"query($k: Int) {
    researchExtract(k: $k) {
        id createdAt k students suppressedRows
        generalisation { department yearOfStudy service labels }
        rows { pseudonym department yearOfStudy service labels status monthOpened monthClosed durationBand riskLevel }
    }
}"#;

/// How a seeded student stands with research.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Research {
    /// A general research consent in force with these categories.
    Consented(&'static [&'static str]),
    None,
    Withdrawn,
    Expired,
    /// In force, but processing is restricted.
    Restricted,
    /// A consent in force naming another recipient (the department).
    OtherRecipient,
    /// A research consent limited to the first case (SUPPORT_SUMMARY, CASE_NOTES).
    CaseScoped,
}

const FULL: &[&str] = &["SUPPORT_SUMMARY", "ACADEMIC", "CASE_NOTES"];

/// A seeded student: their id, identifying values and case ids.
struct Seeded {
    id: Uuid,
    identifying: Vec<String>,
    cases: Vec<Uuid>,
}

/// Seeds one student in `department` with `cases` cases in `service` (the
/// first closed after 45 days), notes labelled MENTAL_HEALTH and SELF_HARM,
/// and a research consent as `research` says (excluding SELF_HARM).
async fn seed(
    app: &TestApp,
    department: &str,
    service: &str,
    cases: usize,
    research: Research,
) -> Seeded {
    let db = &app.db;
    let now = Utc::now();
    let sid = Uuid::new_v4();
    let n = sid.simple().to_string();
    let number = format!("R{}", &n[..9]);
    let name = format!("Research Student {}", &n[..6]);
    let email = format!("rs{}@student.uni.example", &n[..8]);
    student::ActiveModel {
        student_number: Set(number.clone()),
        name: Set(name.clone()),
        email: Set(email.clone()),
        phone: Set(Some("07700 900999".into())),
        date_of_birth: Set(NaiveDate::from_ymd_opt(2003, 2, 1)),
        course: Set("BA Something".into()),
        processing_restricted: Set(research == Research::Restricted),
        created_at: Set(now),
        updated_at: Set(now),
        ..crate::fixtures::student_row(sid, department)
    }
    .insert(db)
    .await
    .unwrap();
    enrolment::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(sid),
        starts_on: Set(NaiveDate::from_ymd_opt(2025, 9, 22).unwrap()),
        ends_on: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    let mut case_ids = Vec::new();
    for i in 0..cases {
        let case = Uuid::new_v4();
        // Fixed dates: year 1 of an enrolment that began in September 2025.
        let opened = NaiveDate::from_ymd_opt(2026, 1, 10)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            .and_utc()
            + Duration::days(i as i64);
        support_case::ActiveModel {
            id: Set(case),
            student_id: Set(sid),
            service: Set(service.into()),
            status: Set(if i == 0 { "closed" } else { "open" }.into()),
            opened_at: Set(opened),
            closed_at: Set((i == 0).then(|| opened + Duration::days(45))),
            assigned_to: Set(Some(app.demo.counsellor)),
            summary: Set(Some(format!("Summary text {n}"))),
            adjustments: Set(Some(format!("Adjustment text {n}"))),
            risk_level: Set("high".into()),
            created_at: Set(opened),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
        note::ActiveModel {
            id: Set(Uuid::new_v4()),
            case_id: Set(case),
            kind: Set("meeting".into()),
            occurred_at: Set(opened),
            author_id: Set(app.demo.counsellor),
            body: Set(format!("Note body {n}")),
            labels: Set(json!(["SELF_HARM", "MENTAL_HEALTH"])),
            created_at: Set(opened),
        }
        .insert(db)
        .await
        .unwrap();
        case_ids.push(case);
    }
    let (kind, categories, expires, withdrawn): (&str, &[&str], _, _) = match research {
        Research::None => ("research", &[], None, None),
        Research::Consented(c) => ("research", c, None, None),
        Research::Withdrawn => ("research", FULL, None, Some(now - Duration::days(1))),
        Research::Expired => ("research", FULL, Some(now - Duration::days(1)), None),
        Research::Restricted => ("research", FULL, None, None),
        Research::OtherRecipient => ("department", FULL, None, None),
        Research::CaseScoped => ("research", &["SUPPORT_SUMMARY", "CASE_NOTES"], None, None),
    };
    if research != Research::None {
        consent::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(sid),
            recipient_kind: Set(kind.into()),
            recipient_ref: Set((kind == "department").then(|| department.to_owned())),
            categories: Set(json!(categories)),
            excluded_labels: Set(json!(["SELF_HARM"])),
            case_id: Set((research == Research::CaseScoped).then(|| case_ids[0])),
            purpose: Set("Research and monitoring.".into()),
            given_at: Set(now - Duration::days(30)),
            expires_at: Set(expires),
            form_reference: Set(Some("FORM-R".into())),
            recorded_by: Set(app.demo.counsellor),
            recorded_by_role: Set("practitioner".into()),
            withdrawn_at: Set(withdrawn),
            withdrawn_by: Set(withdrawn.map(|_| app.demo.counsellor)),
            withdrawal_reason: Set(withdrawn.map(|_| "No longer.".to_owned())),
            created_at: Set(now - Duration::days(30)),
        }
        .insert(db)
        .await
        .unwrap();
    }
    Seeded {
        id: sid,
        identifying: vec![sid.to_string(), number, name, email, n[..12].to_owned()],
        cases: case_ids,
    }
}

async fn extract(app: &TestApp, k: Option<i64>) -> Value {
    let res = app
        .as_caller(app.demo.analyst, Role::Analyst, EXTRACT, json!({ "k": k }))
        .await;
    res.assert_no_errors();
    res.data()["researchExtract"].clone()
}

fn rows(extract: &Value) -> Vec<Value> {
    extract["rows"].as_array().unwrap().clone()
}

fn is_month(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 7
        && s.as_bytes()[4] == b'-'
        && s.chars()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
}

#[tokio::test]
async fn an_analyst_gets_only_research_consented_students_and_nothing_that_identifies_them() {
    // k = 1: nothing generalised, so each seeded group is recognisable by its department.
    let app = spawn_app_with(|s| s.research.research_k = 1).await;
    let mut seeded = Vec::new();
    for _ in 0..5 {
        seeded.push(seed(&app, "history", "counselling", 1, Research::Consented(FULL)).await);
    }
    let two_cases = seed(&app, "history", "counselling", 2, Research::Consented(FULL)).await;
    let summary_only = seed(
        &app,
        "summaryonly",
        "wellbeing",
        1,
        Research::Consented(&["SUPPORT_SUMMARY"]),
    )
    .await;
    let with_risk = seed(
        &app,
        "riskdept",
        "mental_health",
        1,
        Research::Consented(&["SUPPORT_SUMMARY", "ACADEMIC", "RISK"]),
    )
    .await;
    let mut left_out = Vec::new();
    for (dept, research) in [
        ("noconsent", Research::None),
        ("withdrawn", Research::Withdrawn),
        ("expired", Research::Expired),
        ("restricted", Research::Restricted),
        ("otherrecipient", Research::OtherRecipient),
    ] {
        left_out.push((dept, seed(&app, dept, "disability", 1, research).await));
    }

    let e = extract(&app, None).await;
    let rows = rows(&e);
    // 5 + 1 (two cases) + summary-only + risk: 8 students, 9 cases.
    assert_eq!(e["students"], 8, "{e:#}");
    assert_eq!(rows.len(), 9);
    assert_eq!(e["k"], 1);
    assert_eq!(e["suppressedRows"], 0);
    let departments: BTreeSet<&str> = rows
        .iter()
        .map(|r| r["department"].as_str().unwrap())
        .collect();
    assert_eq!(departments, BTreeSet::from(["*", "history", "riskdept"]));
    for (dept, _) in &left_out {
        assert!(
            !departments.contains(dept),
            "{dept} must not be in the extract"
        );
    }
    assert!(rows.iter().all(|r| r["service"] != "disability"));

    // No identifying field: exactly the extract's columns.
    for r in &rows {
        let keys: BTreeSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, COLUMNS.into_iter().collect::<BTreeSet<_>>());
        assert_eq!(r["pseudonym"].as_str().unwrap().len(), 16);
        assert!(is_month(&r["monthOpened"]), "{r}");
        assert_eq!(r["monthOpened"], "2026-01");
        match r["status"].as_str().unwrap() {
            "closed" => {
                assert!(is_month(&r["monthClosed"]), "{r}");
                assert_eq!(r["durationBand"], "MONTHS_1_TO_3");
            }
            _ => {
                assert!(r["monthClosed"].is_null());
                assert!(r["durationBand"].is_null());
            }
        }
    }
    // Nothing about any student, case, or note anywhere in the response.
    let text = e.to_string();
    let everyone = seeded
        .iter()
        .chain([&two_cases, &summary_only, &with_risk])
        .chain(left_out.iter().map(|(_, s)| s));
    for s in everyone {
        for value in s
            .identifying
            .iter()
            .chain(&s.cases.iter().map(|c| c.to_string()).collect::<Vec<_>>())
        {
            assert!(!text.contains(value.as_str()), "{value} leaked: {text}");
        }
    }
    for demo in [
        app.demo.alice,
        app.demo.bob,
        app.demo.carol,
        app.demo.counsellor,
    ] {
        assert!(!text.contains(&demo.to_string()));
    }
    assert!(!text.contains("Example"), "no demo name");
    assert!(
        !text.contains("Summary text")
            && !text.contains("Note body")
            && !text.contains("Adjustment")
    );

    // Labels minus the excluded SELF_HARM; withheld (`*`) without CASE_NOTES.
    for r in &rows {
        match r["department"].as_str().unwrap() {
            "history" => {
                assert_eq!(r["labels"], "MENTAL_HEALTH");
                assert_eq!(r["yearOfStudy"], "1");
                assert!(r["riskLevel"].is_null(), "RISK not named");
            }
            "riskdept" => {
                assert_eq!(r["labels"], "*");
                assert_eq!(r["riskLevel"], "high");
            }
            _ => {
                // No ACADEMIC: department and year withheld.
                assert_eq!(r["yearOfStudy"], "*");
                assert_eq!(r["service"], "wellbeing");
                assert!(r["riskLevel"].is_null());
            }
        }
    }
}

#[tokio::test]
async fn every_released_combination_is_shared_by_at_least_k_students() {
    let app = spawn_app().await;
    for _ in 0..7 {
        seed(&app, "history", "counselling", 1, Research::Consented(FULL)).await;
    }
    for _ in 0..3 {
        seed(&app, "physics", "counselling", 2, Research::Consented(FULL)).await;
    }
    for _ in 0..3 {
        seed(
            &app,
            "chemistry",
            "disability",
            1,
            Research::Consented(FULL),
        )
        .await;
    }
    seed(
        &app,
        "music",
        "wellbeing",
        1,
        Research::Consented(&["SUPPORT_SUMMARY"]),
    )
    .await;
    for k in [None, Some(6)] {
        let e = extract(&app, k).await;
        let k = k.unwrap_or(5);
        assert_eq!(e["k"], k);
        let mut groups: BTreeMap<String, HashSet<String>> = BTreeMap::new();
        for r in rows(&e) {
            let key = format!(
                "{}|{}|{}|{}",
                r["department"], r["yearOfStudy"], r["service"], r["labels"]
            );
            groups
                .entry(key)
                .or_default()
                .insert(r["pseudonym"].as_str().unwrap().to_owned());
        }
        assert!(!groups.is_empty(), "something is released: {e:#}");
        // Departments generalised; the three disability students and the
        // one music student (withheld quasi-identifiers) are suppressed.
        assert_eq!(e["generalisation"]["department"], 1, "{e:#}");
        assert_eq!(e["suppressedRows"], 4);
        assert_eq!(e["students"], 10);
        for (key, students) in &groups {
            assert!(
                students.len() as i64 >= k,
                "{key}: {} < {k}",
                students.len()
            );
        }
        let released: usize = groups.values().map(HashSet::len).sum();
        assert_eq!(e["students"], released);
        assert_eq!(
            rows(&e).len() as i64 + e["suppressedRows"].as_i64().unwrap(),
            7 + 6 + 3 + 1,
            "every case is released or suppressed"
        );
    }
}

#[tokio::test]
async fn a_new_extract_gives_new_pseudonyms_and_a_student_keeps_one_within_an_extract() {
    let app = spawn_app_with(|s| s.research.research_k = 1).await;
    for _ in 0..3 {
        seed(&app, "history", "counselling", 1, Research::Consented(FULL)).await;
    }
    seed(
        &app,
        "twocases",
        "counselling",
        2,
        Research::Consented(FULL),
    )
    .await;
    // A consent limited to one case covers that case only.
    seed(&app, "casescoped", "disability", 2, Research::CaseScoped).await;
    let first = extract(&app, None).await;
    let scoped: Vec<Value> = rows(&first)
        .into_iter()
        .filter(|r| r["service"] == "disability")
        .collect();
    assert_eq!(scoped.len(), 1, "{first:#}");
    assert_eq!(
        scoped[0]["department"], "*",
        "ACADEMIC is never case-scoped"
    );
    assert_eq!(scoped[0]["labels"], "MENTAL_HEALTH");
    assert_eq!(scoped[0]["status"], "closed", "the first case");
    let second = extract(&app, None).await;
    assert_ne!(first["id"], second["id"]);
    let of = |e: &Value| -> Vec<String> {
        rows(e)
            .iter()
            .map(|r| r["pseudonym"].as_str().unwrap().to_owned())
            .collect()
    };
    let (a, b): (HashSet<String>, HashSet<String>) = (
        of(&first).into_iter().collect(),
        of(&second).into_iter().collect(),
    );
    assert_eq!(a.len(), 5, "five students");
    assert!(a.is_disjoint(&b), "no pseudonym carries over: {a:?} {b:?}");
    for e in [&first, &second] {
        let two: Vec<Value> = rows(e)
            .into_iter()
            .filter(|r| r["department"] == "twocases")
            .collect();
        assert_eq!(two.len(), 2);
        assert_eq!(two[0]["pseudonym"], two[1]["pseudonym"]);
    }
}

#[tokio::test]
async fn a_raised_k_is_honoured_and_a_k_below_the_setting_is_refused() {
    let app = spawn_app().await;
    let e = extract(&app, Some(9)).await;
    assert_eq!(e["k"], 9);
    let res = app
        .as_caller(app.demo.analyst, Role::Analyst, EXTRACT, json!({ "k": 4 }))
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert!(res.data()["researchExtract"].is_null());
    assert_eq!(
        app.count("research_extract").await,
        1,
        "the refused one is not recorded"
    );
}

#[tokio::test]
async fn every_role_but_the_analyst_is_forbidden() {
    let app = spawn_app().await;
    seed(&app, "history", "counselling", 1, Research::Consented(FULL)).await;
    for (label, who, role) in app.demo.callers() {
        if role == Role::Analyst {
            continue;
        }
        let res = app.as_caller(who, role, EXTRACT, json!({})).await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{label}: {:#}", res.body);
        assert!(res.data()["researchExtract"].is_null(), "{label}");
    }
    assert_eq!(app.count("research_extract").await, 0);
}

#[tokio::test]
async fn the_extract_is_recorded_and_audited_without_personal_data() {
    let app = spawn_app().await;
    for _ in 0..6 {
        seed(&app, "history", "counselling", 1, Research::Consented(FULL)).await;
    }
    let e = extract(&app, None).await;
    let extract_id = Uuid::parse_str(e["id"].as_str().unwrap()).unwrap();
    let stored = entity::research_extract::Entity::find_by_id(extract_id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("the extract is recorded");
    assert_eq!(stored.created_by, app.demo.analyst);
    assert_eq!(stored.created_by_role, "analyst");
    assert_eq!((stored.k, stored.rows, stored.students), (5, 6, 6));
    let events = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("research_extract"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.actor_id, app.demo.analyst);
    assert_eq!(event.actor_role, "analyst");
    assert!(event.student_id.is_none());
    assert_eq!(event.fields, json!(["RESEARCH_EXTRACT"]));
    let detail: Value = serde_json::from_str(event.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["extract"], id(extract_id));
    assert_eq!(detail["k"], 5);
    assert_eq!(detail["rows"], 6);
    assert_eq!(detail["students"], 6);
    assert_eq!(detail["suppressedRows"], 0);
    assert_eq!(detail["cells"], 60);
    assert_eq!(detail["generalisation"]["department"], 0);
    // No pseudonym in the audit record either.
    for r in rows(&e) {
        assert!(!event
            .detail
            .as_deref()
            .unwrap()
            .contains(r["pseudonym"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn a_research_consent_is_refused_without_support_summary() {
    let app = spawn_app().await;
    let record = |categories: Value| {
        let app = &app;
        async move {
            app.as_caller(
                app.demo.counsellor,
                Role::Practitioner,
                r#"mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }"#,
                json!({ "input": {
                    "studentId": id(app.demo.bob),
                    "recipient": { "kind": "RESEARCH" },
                    "categories": categories,
                    "purpose": "Research and monitoring.",
                    "formReference": "FORM-R1",
                }}),
            )
            .await
        }
    };
    let refused = record(json!(["ACADEMIC"])).await;
    assert_eq!(refused.codes(), vec!["BAD_USER_INPUT"]);
    assert!(refused.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("SUPPORT_SUMMARY"));
    record(json!(["SUPPORT_SUMMARY", "ACADEMIC"]))
        .await
        .assert_no_errors();
}

#[tokio::test]
async fn the_cli_writes_csv_and_json_lines_audited_and_only_the_dpo_key_reidentifies() {
    let app = spawn_app().await;
    let mut seeded = Vec::new();
    for _ in 0..6 {
        seeded.push(
            seed(&app, "history", "counselling", 1, Research::Consented(FULL))
                .await
                .id,
        );
    }
    let policy = confide::policy::load(None).await.unwrap();
    let config = confide::research::Config::with_key(5, b"dpo-held-key-dpo-held-key-0123456789");
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("extract.csv");
    let jsonl_path = dir.path().join("extract.jsonl");
    let a = confide::cli::research_extract(
        &app.db,
        policy.clone(),
        &config,
        None,
        &csv_path,
        Format::Csv,
    )
    .await
    .unwrap();
    let b = confide::cli::research_extract(
        &app.db,
        policy,
        &config,
        Some(6),
        &jsonl_path,
        Format::Jsonl,
    )
    .await
    .unwrap();
    assert_eq!((a.rows.len(), b.rows.len(), b.k), (6, 6, 6));

    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
    let csv_rows: Vec<&str> = lines.collect();
    assert_eq!(csv_rows.len(), 6);
    assert!(csv_rows
        .iter()
        .all(|l| l.split(',').count() == COLUMNS.len()));
    let jsonl = std::fs::read_to_string(&jsonl_path).unwrap();
    let objects: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 6);
    for o in &objects {
        let keys: BTreeSet<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, COLUMNS.into_iter().collect::<BTreeSet<_>>());
        assert_eq!(o["department"], "history");
    }
    // The DPO's key finds the student behind a pseudonym of that extract only;
    // another key finds nobody. Each attempt is audited with its reason.
    let p = objects[0]["pseudonym"].as_str().unwrap();
    let policy = confide::policy::load(None).await.unwrap();
    let reidentify = |config: confide::research::Config, extract: Uuid| {
        let (db, policy) = (app.db.clone(), policy.clone());
        async move {
            confide::cli::research_reidentify(&db, policy, &config, extract, p, "Court order 123.")
                .await
                .unwrap()
        }
    };
    let found = reidentify(config.clone(), b.id)
        .await
        .expect("found with the key");
    let seeded: HashSet<Uuid> = seeded.iter().copied().collect();
    assert!(seeded.contains(&found));
    assert_eq!(reidentify(config.clone(), a.id).await, None);
    let other = confide::research::Config::with_key(5, b"another-key-another-key-0123456789");
    assert_eq!(reidentify(other, b.id).await, None);
    let unknown = confide::cli::research_reidentify(
        &app.db,
        policy.clone(),
        &config,
        Uuid::new_v4(),
        p,
        "Court order 123.",
    )
    .await;
    assert!(unknown.is_err(), "an unknown extract");
    let attempts = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("research_reidentify"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 3);
    assert!(attempts.iter().all(|e| e.actor_role == "dpo"));
    assert_eq!(
        attempts
            .iter()
            .filter(|e| e.student_id == Some(found))
            .count(),
        1
    );
    assert!(attempts
        .iter()
        .all(|e| e.detail.as_deref().unwrap().contains("Court order 123.")));

    let events = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("research_extract"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e.actor_id == Uuid::nil() && e.actor_role == "analyst"));
    assert_eq!(app.count("research_extract").await, 2);
}
