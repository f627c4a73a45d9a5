//! In-process benchmarks: the schema executed directly over a seeded SQLite
//! database, each query with the shipped policy ("guarded") and with an
//! allow-all policy that exists only here ("ceiling").
//!
//! `cargo bench --bench queries`; BENCH_STUDENTS (default 2000) sizes the data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![recursion_limit = "256"]

use confide::auth::{load_caller, Caller};
use confide::domain::Role;
use confide::graphql::{execute, schema, ConfideSchema, Limits};
use confide::policy::{Action, FieldClass, Policy};
use criterion::{criterion_group, criterion_main, Criterion};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::sync::Arc;
use std::time::Duration;

// The same allocator as the server binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Setup {
    db: DatabaseConnection,
    schema: ConfideSchema,
    shipped: Arc<Policy>,
    ceiling: Arc<Policy>,
    own: Caller,
    other: Caller,
    partner: Caller,
    case_id: uuid::Uuid,
    /// One server's limits (and so one audit batcher) for every request.
    limits: Limits,
    _dir: tempfile::TempDir,
}

fn allow_all() -> String {
    let mut text = String::new();
    for role in Role::ALL {
        for class in FieldClass::ALL {
            text.push_str(&format!(
                "p, {}, *, {}, allow, -\n",
                role.as_str(),
                class.as_str()
            ));
        }
        for action in Action::ALL {
            text.push_str(&format!(
                "p, {}, *, {}, allow, -\n",
                role.as_str(),
                action.as_str()
            ));
        }
    }
    text
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let db = confide::db::connect(&url).await.unwrap();
    confide::db::migrate(&db).await.unwrap();
    let students = std::env::var("BENCH_STUDENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let summary = confide::seed::run(
        &db,
        confide::seed::SeedOptions {
            students,
            seed: 42,
            cases_per_student: 5,
            notes_per_case: 4,
        },
    )
    .await
    .unwrap();
    let practitioner = |service: &str| {
        summary
            .practitioner_by_service
            .iter()
            .find(|(s, _)| s == service)
            .unwrap()
            .1
    };
    let own = load_caller(&db, practitioner("counselling"), Role::Practitioner)
        .await
        .unwrap()
        .unwrap();
    let other = load_caller(&db, practitioner("wellbeing"), Role::Practitioner)
        .await
        .unwrap()
        .unwrap();
    let partner = load_caller(&db, summary.partner_with_consents.unwrap(), Role::Partner)
        .await
        .unwrap()
        .unwrap();
    let case_id = entity::support_case::Entity::find()
        .filter(entity::support_case::Column::Service.eq("counselling"))
        .one(&db)
        .await
        .unwrap()
        .unwrap()
        .id;
    Setup {
        db,
        schema: schema(),
        shipped: confide::policy::load(None).await.unwrap(),
        ceiling: Arc::new(Policy::from_text(&allow_all()).await.unwrap()),
        own,
        other,
        partner,
        case_id,
        limits: Limits {
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
        _dir: dir,
    }
}

const Q1: &str = r#"query($id: ID!) { supportCase(id: $id) {
    id service status openedAt summary adjustments riskLevel
    student { id name email studentNumber department course }
    notes { id kind occurredAt body labels author { name } }
} }"#;

const Q2: &str = r#"{ supportCases(first: 50, filter: { service: "counselling" }) { edges { node {
    id service status openedAt summary adjustments riskLevel assignedTo { name }
    student { id name preferredName email studentNumber department course }
    notes(limit: 3) { id kind occurredAt body labels author { name } }
} } } }"#;

const Q3: &str = r#"{ partnerFeed(since: "2020-01-01T00:00:00Z", first: 100) { edges { node {
    studentId changedAt changed accessBegan
    student { id name email phone dateOfBirth department
      cases { service status openedAt summary notes(limit: 3) { occurredAt body labels } } }
} } } }"#;

async fn run(
    s: &Setup,
    policy: &Arc<Policy>,
    caller: &Caller,
    query: &str,
    vars: serde_json::Value,
) {
    let request =
        async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(vars));
    let response = execute(
        &s.schema,
        s.db.clone(),
        policy.clone(),
        caller.clone(),
        s.limits.clone(),
        false,
        uuid::Uuid::now_v7(),
        request,
    )
    .await;
    assert!(
        response.errors.is_empty()
            || response
                .errors
                .iter()
                .all(|e| e.message.contains("not permitted")),
        "{:?}",
        response.errors
    );
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(setup());
    let case = serde_json::json!({ "id": s.case_id.to_string() });
    let add_note = format!(
        r#"mutation {{ addNote(input: {{ caseId: "{}", kind: MEETING, body: "Benchmark note.", labels: [MENTAL_HEALTH] }}) {{ id body labels }} }}"#,
        s.case_id
    );
    let cases: [(&str, &Caller, &str, serde_json::Value); 5] = [
        (
            "Q1 one case with student and notes",
            &s.own,
            Q1,
            case.clone(),
        ),
        ("Q2 dashboard 50 cases", &s.own, Q2, serde_json::json!({})),
        (
            "Q3 partner feed 100 students",
            &s.partner,
            Q3,
            serde_json::json!({}),
        ),
        (
            "Q4 dashboard as another service",
            &s.other,
            Q2,
            serde_json::json!({}),
        ),
        (
            "Q5 addNote",
            &s.own,
            add_note.as_str(),
            serde_json::json!({}),
        ),
    ];
    for (name, caller, query, vars) in cases {
        let mut group = c.benchmark_group(name);
        group
            .sample_size(30)
            .measurement_time(Duration::from_secs(6))
            .warm_up_time(Duration::from_secs(2));
        // Ceiling first: the guarded run then meets the larger audit table, which
        // errs against the guard in the ratio.
        for (label, policy) in [("ceiling", &s.ceiling), ("guarded", &s.shipped)] {
            group.bench_function(label, |b| {
                b.to_async(&rt)
                    .iter(|| run(&s, policy, caller, query, vars.clone()));
            });
        }
        group.finish();
    }
}

criterion_group!(queries, benches);
criterion_main!(queries);
