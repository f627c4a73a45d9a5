//! Statistics under disclosure control (issue 11): no figure about fewer than
//! five students, none recoverable from its totals or by differencing two
//! queries of the same caller, a service lead's figures their own service's.

use crate::fixtures::student_row;
use crate::helpers::{spawn_app, spawn_app_with, Gql, TestApp};
use chrono::{TimeZone, Utc};
use confide::domain::Role;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

/// Students, each with `cases` cases alike.
struct Group {
    dept: &'static str,
    service: &'static str,
    status: &'static str,
    /// (year, month) opened.
    month: (i32, u32),
    students: usize,
    cases: usize,
    labels: &'static [&'static str],
}

fn group(dept: &'static str, status: &'static str, students: usize) -> Group {
    Group {
        dept,
        service: "counselling",
        status,
        month: (2025, 10),
        students,
        cases: 1,
        labels: &[],
    }
}

/// Writes the groups' students, cases and (labelled) notes straight to the
/// database: the statistics read them through the API.
async fn populate(app: &TestApp, groups: &[Group]) {
    let now = Utc::now();
    let author = app.demo.counsellor;
    for g in groups {
        let opened = Utc
            .with_ymd_and_hms(g.month.0, g.month.1, 15, 10, 0, 0)
            .unwrap();
        let mut students = Vec::new();
        let mut cases = Vec::new();
        let mut notes = Vec::new();
        for _ in 0..g.students {
            let id = Uuid::new_v4();
            students.push(student_row(id, g.dept));
            for _ in 0..g.cases {
                let case = Uuid::new_v4();
                cases.push(entity::support_case::ActiveModel {
                    id: Set(case),
                    student_id: Set(id),
                    service: Set(g.service.into()),
                    status: Set(g.status.into()),
                    opened_at: Set(opened),
                    closed_at: Set(
                        (g.status == "closed").then_some(opened + chrono::Duration::days(10))
                    ),
                    assigned_to: Set(None),
                    summary: Set(None),
                    adjustments: Set(None),
                    risk_level: Set("low".into()),
                    created_at: Set(now),
                    updated_at: Set(now),
                });
                if !g.labels.is_empty() {
                    notes.push(entity::note::ActiveModel {
                        id: Set(Uuid::new_v4()),
                        case_id: Set(case),
                        kind: Set("meeting".into()),
                        occurred_at: Set(opened),
                        author_id: Set(author),
                        body: Set("met".into()),
                        labels: Set(json!(g.labels)),
                        created_at: Set(now),
                    });
                }
            }
        }
        for chunk in students.chunks(100) {
            entity::student::Entity::insert_many(chunk.to_vec())
                .exec(&app.db)
                .await
                .unwrap();
        }
        for chunk in cases.chunks(100) {
            entity::support_case::Entity::insert_many(chunk.to_vec())
                .exec(&app.db)
                .await
                .unwrap();
        }
        for chunk in notes.chunks(100) {
            entity::note::Entity::insert_many(chunk.to_vec())
                .exec(&app.db)
                .await
                .unwrap();
        }
    }
}

const TABLE: &str = r#"query($measure: StatisticMeasure!, $groupBy: [StatisticDimension!], $filter: StatisticsFilter) {
    statistics(measure: $measure, groupBy: $groupBy, filter: $filter) {
        releaseId measure groupBy method threshold roundingBase
        total { count suppressed }
        margins { key { dimension value } count suppressed }
        cells { key { dimension value } count suppressed }
    }
}"#;

async fn table(
    app: &TestApp,
    who: (Uuid, Role),
    measure: &str,
    group_by: Value,
    filter: Value,
) -> Gql {
    app.as_caller(
        who.0,
        who.1,
        TABLE,
        json!({ "measure": measure, "groupBy": group_by, "filter": filter }),
    )
    .await
}

fn analyst(app: &TestApp) -> (Uuid, Role) {
    (app.demo.analyst, Role::Analyst)
}

/// The count of the figure whose key is exactly these values (`None` when
/// suppressed); panics when there is no such figure.
fn count(res: &Gql, values: &[&str]) -> Option<i64> {
    let s = &res.data()["statistics"];
    if values.is_empty() {
        return s["total"]["count"].as_i64();
    }
    let figures = s["cells"]
        .as_array()
        .unwrap()
        .iter()
        .chain(s["margins"].as_array().unwrap());
    for f in figures {
        let key: Vec<&str> = f["key"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["value"].as_str().unwrap())
            .collect();
        if key == values {
            assert_eq!(f["suppressed"].as_bool().unwrap(), f["count"].is_null());
            return f["count"].as_i64();
        }
    }
    panic!("no figure {values:?} in {:#}", res.body)
}

/// No released total leaves exactly one suppressed member, and no suppressed
/// total has all of its members released (a two-dimensional table).
fn assert_no_single_suppression(res: &Gql) {
    let s = &res.data()["statistics"];
    let cells = s["cells"].as_array().unwrap();
    let margins = s["margins"].as_array().unwrap();
    for m in margins {
        let k = &m["key"][0];
        let line: Vec<&Value> = cells
            .iter()
            .filter(|c| c["key"].as_array().unwrap().iter().any(|ck| ck == k))
            .collect();
        let hidden = line.iter().filter(|c| c["count"].is_null()).count();
        if m["count"].is_null() {
            assert!(
                hidden > 0,
                "suppressed margin {k} = sum of released cells: {:#}",
                res.body
            );
        } else {
            assert_ne!(
                hidden, 1,
                "one suppressed cell under released margin {k}: {:#}",
                res.body
            );
        }
    }
}

#[tokio::test]
async fn a_cell_of_three_is_suppressed_and_a_cell_of_twelve_released() {
    let app = spawn_app().await;
    populate(
        &app,
        &[
            group("History", "open", 3),
            group("History", "closed", 12),
            group("Physics", "open", 20),
            group("Physics", "closed", 30),
            group("Law", "open", 25),
            group("Law", "closed", 40),
        ],
    )
    .await;
    let res = table(
        &app,
        analyst(&app),
        "STUDENTS",
        json!(["DEPARTMENT", "STATUS"]),
        json!({ "departments": ["History", "Physics", "Law"] }),
    )
    .await;
    res.assert_no_errors();
    assert_eq!(
        count(&res, &["History", "OPEN"]),
        None,
        "a cell of 3 is suppressed"
    );
    assert_eq!(count(&res, &["Law", "OPEN"]), Some(25));
    assert_eq!(count(&res, &["Law", "CLOSED"]), Some(40));
    assert_eq!(count(&res, &["History"]), Some(15));
    assert_eq!(count(&res, &[]), Some(130));
    // The cell of 12 is History's only other cell: released, it would give
    // the 3 away (15 - 12), so it is suppressed too.
    assert_eq!(count(&res, &["History", "CLOSED"]), None);
    assert_no_single_suppression(&res);
    assert_eq!(res.data()["statistics"]["method"], "SUPPRESSION");
    assert_eq!(res.data()["statistics"]["threshold"], 5);

    // Twelve in a line with others to spare is released as 12.
    populate(
        &app,
        &[group("Music", "open", 12), group("Music", "closed", 9)],
    )
    .await;
    let res = table(
        &app,
        analyst(&app),
        "STUDENTS",
        json!(["DEPARTMENT", "STATUS"]),
        json!({ "departments": ["Music", "Law"] }),
    )
    .await;
    assert_eq!(count(&res, &["Music", "OPEN"]), Some(12));
    assert_no_single_suppression(&res);
}

#[tokio::test]
async fn with_rounding_a_cell_of_three_shows_as_five_and_twelve_as_ten() {
    let app = spawn_app_with(|s| s.statistics.method = "round".into()).await;
    populate(
        &app,
        &[group("History", "open", 3), group("History", "closed", 12)],
    )
    .await;
    let res = table(
        &app,
        analyst(&app),
        "STUDENTS",
        json!(["STATUS"]),
        json!({ "departments": ["History"] }),
    )
    .await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["OPEN"]), Some(5));
    assert_eq!(count(&res, &["CLOSED"]), Some(10));
    assert_eq!(count(&res, &[]), Some(15));
    assert_eq!(res.data()["statistics"]["method"], "ROUNDING");
    assert_eq!(res.data()["statistics"]["roundingBase"], 5);
}

#[tokio::test]
async fn a_student_with_many_cases_is_still_one_student() {
    let app = spawn_app().await;
    populate(
        &app,
        &[
            Group {
                cases: 7,
                ..group("History", "open", 1)
            },
            group("History", "closed", 30),
            group("Physics", "open", 30),
        ],
    )
    .await;
    let res = table(
        &app,
        analyst(&app),
        "CASES",
        json!(["DEPARTMENT", "STATUS"]),
        json!({ "departments": ["History", "Physics"] }),
    )
    .await;
    res.assert_no_errors();
    // Seven cases, one student: suppressed.
    assert_eq!(count(&res, &["History", "OPEN"]), None);
    assert_no_single_suppression(&res);
}

/// History's open cases over three months: 20 students in October, 15 in
/// November, 2 in December.
fn three_months() -> [Group; 3] {
    [(10, 20), (11, 15), (12, 2)].map(|(month, students)| Group {
        month: (2025, month),
        ..group("History", "open", students)
    })
}

#[tokio::test]
async fn the_same_table_with_one_more_month_cannot_be_differenced() {
    let app = spawn_app().await;
    populate(&app, &three_months()).await;
    let two = json!({ "departments": ["History"], "openedFrom": "2025-10", "openedTo": "2025-11" });
    let three =
        json!({ "departments": ["History"], "openedFrom": "2025-10", "openedTo": "2025-12" });
    let res = table(&app, analyst(&app), "STUDENTS", json!([]), two.clone()).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &[]), Some(35));
    // One more month adds 2 students: 37 - 35 would name the December group.
    let res = table(&app, analyst(&app), "STUDENTS", json!([]), three.clone()).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &[]), None, "{:#}", res.body);
    // The same, asked the other way round, by a caller with no history: the
    // first answer stands, the narrower one is then withheld.
    let dpo = (app.demo.dpo, Role::Dpo);
    let res = table(&app, dpo, "STUDENTS", json!([]), three).await;
    assert_eq!(count(&res, &[]), Some(37));
    let res = table(&app, dpo, "STUDENTS", json!([]), two).await;
    assert_eq!(count(&res, &[]), None);
    // Grouped by month in one table, December's 2 is suppressed and so is
    // a complement, so that neither total gives it away.
    let lead = (app.demo.counselling_lead, Role::ServiceLead);
    let res = table(
        &app,
        lead,
        "STUDENTS",
        json!(["MONTH_OPENED"]),
        json!({ "departments": ["History"], "openedFrom": "2025-10", "openedTo": "2025-12" }),
    )
    .await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["2025-12"]), None);
    assert_eq!(count(&res, &["2025-11"]), None);
    assert_eq!(count(&res, &["2025-10"]), Some(20));
}

#[tokio::test]
async fn a_table_with_and_without_one_filter_value_cannot_be_differenced() {
    let app = spawn_app().await;
    populate(
        &app,
        &[
            group("History", "open", 20),
            group("Physics", "open", 15),
            group("Law", "open", 3),
            group("Law", "closed", 30),
        ],
    )
    .await;
    let res = table(
        &app,
        analyst(&app),
        "CASES",
        json!(["STATUS"]),
        json!({ "departments": ["History", "Physics"] }),
    )
    .await;
    assert_eq!(count(&res, &["OPEN"]), Some(35));
    // Adding Law adds 3 open cases: withheld, and the table's total with it
    // (the total minus the closed cells would give it).
    let res = table(
        &app,
        analyst(&app),
        "CASES",
        json!(["STATUS"]),
        json!({ "departments": ["History", "Physics", "Law"] }),
    )
    .await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["OPEN"]), None, "{:#}", res.body);
    assert_ne!(
        count(&res, &[])
            .zip(count(&res, &["CLOSED"]))
            .map(|(t, c)| t - c),
        Some(38)
    );
    // Asking the same with one value filtered out is the same difference.
    let res = table(
        &app,
        analyst(&app),
        "CASES",
        json!([]),
        json!({ "departments": ["History", "Physics", "Law"], "statuses": ["OPEN"] }),
    )
    .await;
    assert_eq!(count(&res, &[]), None, "{:#}", res.body);
}

#[tokio::test]
async fn a_filter_narrowing_the_group_below_five_students_releases_nothing() {
    let app = spawn_app().await;
    populate(
        &app,
        &[group("History", "open", 3), group("Physics", "open", 30)],
    )
    .await;
    let res = table(
        &app,
        analyst(&app),
        "CASES",
        json!(["STATUS", "SERVICE"]),
        json!({ "departments": ["History"] }),
    )
    .await;
    res.assert_no_errors();
    let s = &res.data()["statistics"];
    assert!(s["total"]["count"].is_null());
    for f in s["cells"]
        .as_array()
        .unwrap()
        .iter()
        .chain(s["margins"].as_array().unwrap())
    {
        assert!(f["count"].is_null() && f["suppressed"] == true, "{f}");
    }
}

#[tokio::test]
async fn a_service_lead_gets_only_their_own_service() {
    let app = spawn_app().await;
    populate(
        &app,
        &[
            group("History", "open", 10),
            Group {
                service: "mental_health",
                ..group("History", "open", 25)
            },
        ],
    )
    .await;
    let lead = (app.demo.counselling_lead, Role::ServiceLead);
    let res = table(
        &app,
        lead,
        "STUDENTS",
        json!(["SERVICE"]),
        json!({ "departments": ["History"] }),
    )
    .await;
    res.assert_no_errors();
    let cells = res.data()["statistics"]["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1, "{:#}", res.body);
    assert_eq!(count(&res, &["counselling"]), Some(10));
    assert_eq!(count(&res, &[]), Some(10));
    // Naming another service is refused.
    let res = table(
        &app,
        lead,
        "STUDENTS",
        json!([]),
        json!({ "services": ["mental_health"] }),
    )
    .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    assert!(res.data()["statistics"].is_null());
    // caseStatistics is the same table, under the same rules.
    let res = app
        .as_caller(
            lead.0,
            lead.1,
            "{ caseStatistics { service status count suppressed } }",
            json!({}),
        )
        .await;
    res.assert_no_errors();
    for c in res.data()["caseStatistics"].as_array().unwrap() {
        assert_eq!(c["service"], "counselling");
    }
}

#[tokio::test]
async fn labels_group_and_filter_cases_by_their_notes() {
    let app = spawn_app().await;
    populate(
        &app,
        &[
            Group {
                labels: &["MENTAL_HEALTH"],
                ..group("History", "open", 12)
            },
            Group {
                labels: &["MENTAL_HEALTH", "FINANCES"],
                ..group("History", "open", 8)
            },
            group("History", "closed", 10),
        ],
    )
    .await;
    let res = table(
        &app,
        analyst(&app),
        "CASES",
        json!(["LABEL"]),
        json!({ "departments": ["History"] }),
    )
    .await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["MENTAL_HEALTH"]), Some(20));
    assert_eq!(count(&res, &["FINANCES"]), Some(8));
    assert_eq!(count(&res, &["NONE"]), Some(10));
    let res = table(
        &app,
        analyst(&app),
        "CASES",
        json!([]),
        json!({ "departments": ["History"], "labels": ["FINANCES"] }),
    )
    .await;
    assert_eq!(count(&res, &[]), Some(8));
    let res = table(
        &app,
        analyst(&app),
        "CASES",
        json!([]),
        json!({ "labels": ["NOT_A_LABEL"] }),
    )
    .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn bad_statistics_input_is_a_typed_error() {
    let app = spawn_app().await;
    for (group_by, filter) in [
        (json!(["STATUS", "STATUS"]), json!({})),
        (
            json!(["STATUS", "SERVICE", "LABEL", "DEPARTMENT", "RISK_LEVEL"]),
            json!({}),
        ),
        (json!([]), json!({ "openedFrom": "2025-13" })),
        (
            json!([]),
            json!({ "openedFrom": "2025-10", "openedTo": "2025-09" }),
        ),
        (json!([]), json!({ "academicYears": ["2025/27"] })),
        (json!([]), json!({ "departments": [] })),
    ] {
        let res = table(
            &app,
            analyst(&app),
            "CASES",
            group_by.clone(),
            filter.clone(),
        )
        .await;
        assert_eq!(
            res.codes(),
            vec!["BAD_USER_INPUT"],
            "{group_by} {filter}: {:#}",
            res.body
        );
    }
    assert_eq!(
        app.count("statistics_release").await,
        0,
        "nothing released by a refused query"
    );
}

#[tokio::test]
async fn roles_without_statistics_are_refused() {
    let app = spawn_app().await;
    for (who, role) in [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.reception, Role::Reception),
        (app.demo.it_support, Role::ItSupport),
        (app.demo.history_department, Role::Department),
        (app.demo.nhs_trust, Role::Partner),
        (app.demo.alice, Role::Student),
        (app.demo.admin, Role::Admin),
    ] {
        let res = table(&app, (who, role), "STUDENTS", json!([]), json!({})).await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role:?}: {:#}", res.body);
    }
}

#[tokio::test]
async fn every_statistics_query_is_audited_with_the_figures_released() {
    let app = spawn_app().await;
    populate(
        &app,
        &[
            group("History", "open", 3),
            group("History", "closed", 30),
            group("Physics", "open", 30),
        ],
    )
    .await;
    let res = table(
        &app,
        analyst(&app),
        "STUDENTS",
        json!(["DEPARTMENT", "STATUS"]),
        json!({ "departments": ["History", "Physics"] }),
    )
    .await;
    res.assert_no_errors();
    let release = res.data()["statistics"]["releaseId"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Action.eq("statistics"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.actor_id, app.demo.analyst);
    assert_eq!(e.student_id, None);
    let detail: Value = serde_json::from_str(e.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["release"], release);
    let s = &res.data()["statistics"];
    let figures: Vec<&Value> = s["cells"]
        .as_array()
        .unwrap()
        .iter()
        .chain(s["margins"].as_array().unwrap())
        .chain([&s["total"]])
        .collect();
    let released = figures.iter().filter(|f| !f["count"].is_null()).count();
    let suppressed = figures.len() - released;
    assert_eq!(detail["released"], released);
    assert_eq!(detail["suppressed"], suppressed);
    // The ledger holds exactly the figures released, with their values.
    let rows = entity::statistics_release::Entity::find()
        .filter(
            entity::statistics_release::Column::ReleaseId.eq(Uuid::parse_str(&release).unwrap()),
        )
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), released);
    let mut values: Vec<i64> = rows.iter().map(|r| r.value).collect();
    let mut shown: Vec<i64> = figures.iter().filter_map(|f| f["count"].as_i64()).collect();
    values.sort_unstable();
    shown.sort_unstable();
    assert_eq!(values, shown);
    assert!(rows
        .iter()
        .all(|r| r.caller_id == app.demo.analyst && r.value >= 5));
}

#[tokio::test]
async fn a_request_cannot_ask_for_many_tables_under_aliases() {
    let app = spawn_app().await;
    let one = "statistics(measure: CASES, groupBy: [SERVICE]) { total { count } }";
    let four: String = (0..4).map(|i| format!("t{i}: {one} ")).collect();
    let res = app
        .as_caller(
            app.demo.analyst,
            Role::Analyst,
            &format!("{{ {four} }}"),
            json!({}),
        )
        .await;
    res.assert_no_errors();
    let five: String = (0..5).map(|i| format!("t{i}: {one} ")).collect();
    let res = app
        .as_caller(
            app.demo.analyst,
            Role::Analyst,
            &format!("{{ {five} }}"),
            json!({}),
        )
        .await;
    assert_eq!(res.codes(), vec!["QUERY_TOO_COSTLY"], "{:#}", res.body);
    assert_eq!(
        app.count("audit_event WHERE action = 'statistics'").await,
        4
    );
}

#[tokio::test]
async fn two_tables_in_one_request_cannot_be_differenced() {
    let app = spawn_app().await;
    populate(&app, &three_months()).await;
    // Root fields resolve concurrently: each table still sees the other's
    // released figures, and both are in the ledger and the audit trail.
    let res = app
        .as_caller(
            app.demo.analyst,
            Role::Analyst,
            r#"{
                a: statistics(measure: STUDENTS, filter: { departments: ["History"], openedFrom: "2025-10", openedTo: "2025-11" }) { total { count } }
                b: statistics(measure: STUDENTS, filter: { departments: ["History"], openedFrom: "2025-10", openedTo: "2025-12" }) { total { count } }
            }"#,
            json!({}),
        )
        .await;
    res.assert_no_errors();
    let a = res.data()["a"]["total"]["count"].as_i64();
    let b = res.data()["b"]["total"]["count"].as_i64();
    assert!(a.is_none() || b.is_none(), "both released: {a:?} {b:?}");
    assert_eq!(a.or(b).map(|n| n == 35 || n == 37), Some(true));
    assert_eq!(
        app.count("audit_event WHERE action = 'statistics'").await,
        2
    );
    assert_eq!(app.count("statistics_release").await, 1);
}

#[tokio::test]
async fn a_figure_asked_before_is_not_counted_as_hidden_in_a_later_table() {
    let app = spawn_app().await;
    populate(
        &app,
        &[
            group("Art", "open", 3),
            group("Bio", "open", 12),
            group("Chem", "open", 30),
        ],
    )
    .await;
    // First Bio alone: 12.
    let res = table(
        &app,
        analyst(&app),
        "STUDENTS",
        json!([]),
        json!({ "departments": ["Bio"] }),
    )
    .await;
    assert_eq!(count(&res, &[]), Some(12));
    // Then by department: Art's 3 is suppressed, and suppressing Bio's 12 as
    // its complement would hide nothing the caller does not hold (45 - 30 -
    // 12 = 3); so Chem's 30 is suppressed too.
    let res = table(
        &app,
        analyst(&app),
        "STUDENTS",
        json!(["DEPARTMENT"]),
        json!({ "departments": ["Art", "Bio", "Chem"] }),
    )
    .await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["Art"]), None);
    assert_eq!(count(&res, &["Chem"]), None, "{:#}", res.body);
    assert_eq!(count(&res, &[]), Some(45));
}

/// The server keeps the population between queries; these tests write
/// straight to the database between two queries, as a writer the server does
/// not know of would, and the second query must count from the new data.
/// (Two callers, so that the first's ledger does not shape the second table.)
#[tokio::test]
async fn a_student_restricted_after_a_query_is_not_counted_by_the_next() {
    let app = spawn_app().await;
    populate(
        &app,
        &[group("History", "open", 12), group("Physics", "open", 6)],
    )
    .await;
    let by_department = |who| {
        table(
            &app,
            who,
            "STUDENTS",
            json!(["DEPARTMENT"]),
            json!({ "departments": ["History", "Physics"] }),
        )
    };
    let res = by_department((app.demo.dpo, Role::Dpo)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["Physics"]), Some(6));
    let physics: Vec<Uuid> = entity::student::Entity::find()
        .filter(entity::student::Column::Department.eq("Physics"))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .take(2)
        .collect();
    entity::student::Entity::update_many()
        .col_expr(
            entity::student::Column::ProcessingRestricted,
            sea_orm::sea_query::Expr::value(true),
        )
        .filter(entity::student::Column::Id.is_in(physics))
        .exec(&app.db)
        .await
        .unwrap();
    let res = by_department(analyst(&app)).await;
    res.assert_no_errors();
    assert_eq!(
        count(&res, &["Physics"]),
        None,
        "four unrestricted Physics students: suppressed"
    );
    assert_eq!(
        count(&res, &["History"]),
        None,
        "else 16 - 12 gives it away"
    );
}

#[tokio::test]
async fn a_label_changed_after_a_query_is_counted_by_the_next() {
    let app = spawn_app().await;
    populate(
        &app,
        &[
            Group {
                labels: &["FAMILY"],
                ..group("History", "open", 8)
            },
            group("History", "closed", 9),
        ],
    )
    .await;
    let by_label = |who| {
        table(
            &app,
            who,
            "CASES",
            json!(["LABEL"]),
            json!({ "departments": ["History"] }),
        )
    };
    let res = by_label((app.demo.dpo, Role::Dpo)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["FAMILY"]), Some(8));
    entity::note::Entity::update_many()
        .col_expr(
            entity::note::Column::Labels,
            sea_orm::sea_query::Expr::value(json!(["MENTAL_HEALTH"])),
        )
        .filter(entity::note::Column::Body.eq("met"))
        .exec(&app.db)
        .await
        .unwrap();
    let res = by_label(analyst(&app)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["MENTAL_HEALTH"]), Some(8));
    let cells = res.data()["statistics"]["cells"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        cells.iter().all(|c| c["key"][0]["value"] != "FAMILY"),
        "no case has FAMILY any more: {cells:?}"
    );
}

/// The ids of the cases of a department's students (a status, if given).
async fn case_ids(app: &TestApp, dept: &str, status: &str) -> Vec<Uuid> {
    let students: Vec<Uuid> = entity::student::Entity::find()
        .filter(entity::student::Column::Department.eq(dept))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut ids: Vec<Uuid> = entity::support_case::Entity::find()
        .filter(entity::support_case::Column::StudentId.is_in(students))
        .filter(entity::support_case::Column::Status.eq(status))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort();
    ids
}

/// The statistics version and the version change rows are pruned through.
async fn statistics_versions(app: &TestApp) -> (i64, i64) {
    use sea_orm::ConnectionTrait;
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT version FROM statistics_version WHERE id IN (1, 2) ORDER BY id",
        ))
        .await
        .unwrap();
    (
        rows[0].try_get_by_index(0).unwrap(),
        rows[1].try_get_by_index(0).unwrap(),
    )
}

#[tokio::test]
async fn a_case_closed_between_two_questions_is_counted_as_closed_by_the_next() {
    let app = spawn_app().await;
    populate(&app, &[group("History", "open", 12)]).await;
    let by_status = |who| {
        table(
            &app,
            who,
            "CASES",
            json!(["STATUS"]),
            json!({ "departments": ["History"] }),
        )
    };
    let res = by_status((app.demo.dpo, Role::Dpo)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["OPEN"]), Some(12));
    let closing: Vec<Uuid> = case_ids(&app, "History", "open")
        .await
        .into_iter()
        .take(6)
        .collect();
    entity::support_case::Entity::update_many()
        .col_expr(
            entity::support_case::Column::Status,
            sea_orm::sea_query::Expr::value("closed"),
        )
        .col_expr(
            entity::support_case::Column::ClosedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(entity::support_case::Column::Id.is_in(closing))
        .exec(&app.db)
        .await
        .unwrap();
    let res = by_status(analyst(&app)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["OPEN"]), Some(6));
    assert_eq!(count(&res, &["CLOSED"]), Some(6));
}

#[tokio::test]
async fn a_case_deleted_between_two_questions_is_not_counted_by_the_next() {
    let app = spawn_app().await;
    populate(
        &app,
        &[group("History", "open", 12), group("Physics", "open", 8)],
    )
    .await;
    let by_department = |who| {
        table(
            &app,
            who,
            "CASES",
            json!(["DEPARTMENT"]),
            json!({ "departments": ["History", "Physics"] }),
        )
    };
    let res = by_department((app.demo.dpo, Role::Dpo)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["History"]), Some(12));
    let deleting: Vec<Uuid> = case_ids(&app, "History", "open")
        .await
        .into_iter()
        .take(6)
        .collect();
    entity::support_case::Entity::delete_many()
        .filter(entity::support_case::Column::Id.is_in(deleting))
        .exec(&app.db)
        .await
        .unwrap();
    let res = by_department(analyst(&app)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["History"]), Some(6));
    assert_eq!(count(&res, &["Physics"]), Some(8));
}

#[tokio::test]
async fn a_student_whose_department_changes_moves_all_their_cases() {
    let app = spawn_app().await;
    populate(
        &app,
        &[
            Group {
                cases: 2,
                ..group("History", "open", 10)
            },
            group("Physics", "open", 6),
        ],
    )
    .await;
    let by_department = |who| {
        table(
            &app,
            who,
            "CASES",
            json!(["DEPARTMENT"]),
            json!({ "departments": ["History", "Physics"] }),
        )
    };
    let res = by_department((app.demo.dpo, Role::Dpo)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["History"]), Some(20));
    assert_eq!(count(&res, &["Physics"]), Some(6));
    let moving: Vec<Uuid> = entity::student::Entity::find()
        .filter(entity::student::Column::Department.eq("History"))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .take(5)
        .collect();
    entity::student::Entity::update_many()
        .col_expr(
            entity::student::Column::Department,
            sea_orm::sea_query::Expr::value("Physics"),
        )
        .filter(entity::student::Column::Id.is_in(moving))
        .exec(&app.db)
        .await
        .unwrap();
    let res = by_department(analyst(&app)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["History"]), Some(10));
    assert_eq!(count(&res, &["Physics"]), Some(16));
}

#[tokio::test]
async fn a_note_moved_to_another_case_takes_its_labels_along() {
    let app = spawn_app().await;
    populate(
        &app,
        &[
            Group {
                labels: &["FAMILY"],
                ..group("History", "open", 12)
            },
            group("History", "closed", 15),
        ],
    )
    .await;
    let closed_by_label = |who| {
        table(
            &app,
            who,
            "CASES",
            json!(["LABEL"]),
            json!({ "departments": ["History"], "statuses": ["CLOSED"] }),
        )
    };
    let res = closed_by_label((app.demo.dpo, Role::Dpo)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["NONE"]), Some(15));
    let labelled = case_ids(&app, "History", "open").await;
    let targets = case_ids(&app, "History", "closed").await;
    for (from, to) in labelled.iter().zip(&targets).take(6) {
        entity::note::Entity::update_many()
            .col_expr(
                entity::note::Column::CaseId,
                sea_orm::sea_query::Expr::value(*to),
            )
            .filter(entity::note::Column::CaseId.eq(*from))
            .exec(&app.db)
            .await
            .unwrap();
    }
    let res = closed_by_label(analyst(&app)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["FAMILY"]), Some(6));
    assert_eq!(count(&res, &["NONE"]), Some(9));
}

/// Many writes between two questions: more changes than are applied to the
/// population kept, and enough versions that old change rows are pruned. The
/// next question reads the population whole and still counts right.
#[tokio::test]
async fn after_many_writes_and_pruning_the_next_question_still_counts_right() {
    let app = spawn_app().await;
    populate(
        &app,
        &[group("History", "open", 12), group("Physics", "open", 6)],
    )
    .await;
    let by_department = |who| {
        table(
            &app,
            who,
            "STUDENTS",
            json!(["DEPARTMENT"]),
            json!({ "departments": ["History", "Physics"] }),
        )
    };
    let res = by_department((app.demo.dpo, Role::Dpo)).await;
    res.assert_no_errors();
    assert_eq!(count(&res, &["Physics"]), Some(6));
    let (start, pruned_before) = statistics_versions(&app).await;
    // 18 cases a statement, each a version and a change row.
    while statistics_versions(&app).await.0 - start <= 2 * 10_000 {
        entity::support_case::Entity::update_many()
            .col_expr(
                entity::support_case::Column::RiskLevel,
                sea_orm::sea_query::Expr::cust(
                    "CASE WHEN risk_level = 'low' THEN 'high' ELSE 'low' END",
                ),
            )
            .exec(&app.db)
            .await
            .unwrap();
    }
    let physics: Vec<Uuid> = entity::student::Entity::find()
        .filter(entity::student::Column::Department.eq("Physics"))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .take(2)
        .collect();
    entity::student::Entity::update_many()
        .col_expr(
            entity::student::Column::ProcessingRestricted,
            sea_orm::sea_query::Expr::value(true),
        )
        .filter(entity::student::Column::Id.is_in(physics))
        .exec(&app.db)
        .await
        .unwrap();
    let res = by_department(analyst(&app)).await;
    res.assert_no_errors();
    assert_eq!(
        count(&res, &["Physics"]),
        None,
        "four unrestricted Physics students: suppressed"
    );
    let (version, pruned) = statistics_versions(&app).await;
    assert!(pruned > pruned_before, "pruned through {pruned}");
    assert_eq!(pruned, version - 10_000);
}
