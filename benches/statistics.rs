//! In-process benchmarks of statistics under disclosure control on a seeded
//! SQLite database of 10,000 students (about 50,000 cases, 200,000 notes):
//! the whole request (authorisation, the release ledger, the SQL, grouping,
//! protection, the ledger and audit writes), as the analyst.
//!
//! `cargo bench --bench statistics`; BENCH_STUDENTS (default 10000) sizes the
//! data; BENCH_DATABASE_URL=postgres://.../postgres runs it on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![recursion_limit = "256"]

use confide::auth::{load_caller, Caller};
use confide::domain::Role;
use confide::graphql::{execute, schema, ConfideSchema, Limits};
use confide::policy::Policy;
use criterion::{criterion_group, criterion_main, Criterion};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Setup {
    db: DatabaseConnection,
    schema: ConfideSchema,
    policy: Arc<Policy>,
    analyst: Caller,
    limits: Limits,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    // BENCH_DATABASE_URL: a PostgreSQL server's admin database, in which a
    // fresh database is created; SQLite in a temporary directory otherwise.
    let url = match std::env::var("BENCH_DATABASE_URL") {
        Ok(admin_url) => {
            let name = format!("confide_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let base = admin_url.rsplit_once('/').unwrap().0;
            format!("{base}/{name}")
        }
        Err(_) => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        ),
    };
    let db = confide::db::connect(&url).await.unwrap();
    confide::db::migrate(&db).await.unwrap();
    let students = std::env::var("BENCH_STUDENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    confide::seed::run(
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
    let analyst_id = entity::staff::Entity::find()
        .filter(entity::staff::Column::Role.eq("analyst"))
        .one(&db)
        .await
        .unwrap()
        .expect("the seed has an analyst")
        .id;
    let analyst = load_caller(&db, analyst_id, Role::Analyst)
        .await
        .unwrap()
        .unwrap();
    Setup {
        db,
        schema: schema(),
        policy: confide::policy::load(None).await.unwrap(),
        analyst,
        // One server's limits, with the statistics population it keeps.
        limits: Limits {
            max_page_size: 100,
            cost: confide::graphql::cost::CostLimits::default(),
            services: Arc::new(vec!["counselling".to_owned()]),
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

async fn run(s: &Setup, query: &str) {
    let response = execute(
        &s.schema,
        s.db.clone(),
        s.policy.clone(),
        s.analyst.clone(),
        s.limits.clone(),
        false,
        uuid::Uuid::now_v7(),
        async_graphql::Request::new(query),
    )
    .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
}

const FIGURES: &str =
    "total { count } margins { key { value } count } cells { key { value } count }";

fn benches(c: &mut Criterion) {
    // STATS_TRACE=1: each query's phases (ledger, fetch, compute, record) on stderr.
    if std::env::var("STATS_TRACE").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter("confide::statistics=debug")
            .with_writer(std::io::stderr)
            .init();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(setup());
    let queries = [
        (
            "S1 students by service x status",
            "STUDENTS",
            "[SERVICE, STATUS]",
            "",
        ),
        (
            "S2 cases by department x academic year",
            "CASES",
            "[DEPARTMENT, ACADEMIC_YEAR_OPENED]",
            "",
        ),
        (
            "S3 students by label x risk level",
            "STUDENTS",
            "[LABEL, RISK_LEVEL]",
            "",
        ),
        (
            "S4 cases by month, one service, filtered",
            "CASES",
            "[MONTH_OPENED]",
            r#", filter: { services: ["counselling"], riskLevels: [HIGH, MEDIUM] }"#,
        ),
    ];
    for (name, measure, group_by, filter) in queries {
        let query = format!(
            "{{ statistics(measure: {measure}, groupBy: {group_by}{filter}) {{ {FIGURES} }} }}"
        );
        // A fresh ledger for each benchmark: the ledger then grows by one
        // release per iteration, as it does for a busy analyst.
        rt.block_on(s.db.execute_unprepared("DELETE FROM statistics_release"))
            .unwrap();
        let mut group = c.benchmark_group(name);
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(8))
            .warm_up_time(Duration::from_secs(2));
        // "guarded": the population as the server keeps it between writes;
        // "after a write": one case's risk level changes before each query
        // (the triggers record the case), so every query reads that case
        // again and builds the population from the one it kept;
        // "after a bump": the statistics version moves with no change row
        // (as after a delete, or many changes), so every query reads the
        // whole population from the database.
        group.bench_function("guarded", |b| b.to_async(&rt).iter(|| run(&s, &query)));
        group.bench_function("after a write", |b| {
            b.to_async(&rt).iter(|| async {
                s.db.execute_unprepared(
                    "UPDATE support_case SET risk_level = \
                     CASE WHEN risk_level = 'low' THEN 'medium' ELSE 'low' END \
                     WHERE id = (SELECT MIN(id) FROM support_case)",
                )
                .await
                .unwrap();
                run(&s, &query).await
            })
        });
        group.bench_function("after a bump", |b| {
            b.to_async(&rt).iter(|| async {
                s.db.execute_unprepared(
                    "UPDATE statistics_version SET version = version + 1 WHERE id = 1",
                )
                .await
                .unwrap();
                run(&s, &query).await
            })
        });
        group.finish();
        let rows = rt
            .block_on(s.db.query_one_raw(sea_orm::Statement::from_string(
                s.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM statistics_release".to_owned(),
            )))
            .unwrap()
            .unwrap();
        eprintln!(
            "{name}: ledger rows after the run: {}",
            rows.try_get::<i64>("", "n").unwrap()
        );
    }
}

criterion_group!(statistics, benches);
criterion_main!(statistics);
