//! More than one instance (issue 12, item 7): two servers over the same
//! database answer alike on the very next request after a write through
//! either; a policy version published in the database reaches every instance
//! within the poll interval, each request reports the one version it was
//! decided by, and a version that does not load is never served.

use crate::fixtures::{history_department_consent, record_consent, unread_consent_id, view};
use crate::helpers::{id, Gql, TestApp};
use confide::domain::Role;
use entity::{audit_event, policy_version};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};
use serde_json::json;
use std::time::{Duration, Instant};

fn policy_version_of(res: &Gql) -> String {
    res.body["extensions"]["policyVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no extensions.policyVersion: {:#}", res.body))
        .to_owned()
}

const RECEPTION_VIEW: &str = r#"query($id: ID!) { student(id: $id) { name email } }"#;

async fn reception_view(app: &TestApp) -> Gql {
    app.as_caller(
        app.demo.reception,
        Role::Reception,
        RECEPTION_VIEW,
        json!({ "id": id(app.demo.alice) }),
    )
    .await
}

/// The shipped policy with reception's CONTACT fields redacted instead of allowed.
fn contact_redacted_for_reception() -> String {
    let shipped = confide::policy::DEFAULT_POLICY.to_owned();
    let changed = shipped.replace(
        "p, reception, any, CONTACT, allow, -",
        "p, reception, any, CONTACT, redact, ROLE_NOT_PERMITTED",
    );
    assert_ne!(
        changed, shipped,
        "the rule to change is in the shipped policy"
    );
    changed
}

fn write_policy(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Asks `app` until its responses report `version` (each request is one
/// snapshot); panics after `within`. Returns that response.
async fn until_version(app: &TestApp, version: &str, within: Duration) -> Gql {
    let started = Instant::now();
    loop {
        let res = reception_view(app).await;
        if policy_version_of(&res) == version {
            return res;
        }
        assert!(
            started.elapsed() < within,
            "{} still reports {} after {within:?}",
            app.address,
            policy_version_of(&res)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn two_instances_agree_on_the_very_next_request_after_a_withdrawal() {
    let a = crate::helpers::spawn_app().await;
    let b = a.another_instance(|_| {}).await;
    let dept = (a.demo.history_department, Role::Department);

    // Before any consent, and after reading through both (warming anything an
    // instance might keep), both answer alike.
    let (before_a, before_b) = (view(&a, dept).await, view(&b, dept).await);
    assert!(before_b.data()["student"].is_null());
    assert_eq!(before_a.data(), before_b.data());

    let consent = unread_consent_id(
        &record_consent(
            &a,
            (a.demo.reception, Role::Reception),
            history_department_consent(&a),
        )
        .await,
    );
    // Recorded through A: B sees it on its next request.
    let during = view(&b, dept).await;
    assert_eq!(during.data()["student"]["name"], "Alice Example");
    assert_eq!(during.data(), view(&a, dept).await.data());

    let withdraw = a
        .as_caller(
            a.demo.alice,
            Role::Student,
            r#"mutation($id: ID!) { withdrawConsent(id: $id, reason: "Changed my mind") { status } }"#,
            json!({ "id": consent }),
        )
        .await;
    withdraw.assert_no_errors();
    assert_eq!(withdraw.data()["withdrawConsent"]["status"], "WITHDRAWN");

    // Withdrawn through A: the very next request through B no longer sees her.
    let after = view(&b, dept).await;
    after.assert_no_errors();
    assert!(after.data()["student"].is_null(), "{:#}", after.body);
    assert_eq!(after.data()["students"]["totalCount"], 0);
    assert_eq!(after.data(), view(&a, dept).await.data());

    // And the other way round: a consent recorded through B is seen through A.
    unread_consent_id(
        &record_consent(
            &b,
            (b.demo.reception, Role::Reception),
            history_department_consent(&b),
        )
        .await,
    );
    let again = view(&a, dept).await;
    assert_eq!(again.data()["student"]["name"], "Alice Example");
    assert_eq!(again.data(), view(&b, dept).await.data());
}

#[tokio::test]
async fn a_published_policy_reaches_both_instances_and_is_reported_and_audited() {
    let a = crate::helpers::spawn_app_with(|s| s.policy_poll_secs = 1).await;
    let b = a.another_instance(|s| s.policy_poll_secs = 1).await;

    let (first_a, first_b) = (reception_view(&a).await, reception_view(&b).await);
    let embedded = policy_version_of(&first_a);
    assert!(embedded.starts_with("embedded:"), "{embedded}");
    assert_eq!(policy_version_of(&first_b), embedded);
    assert_eq!(
        first_a.data()["student"]["email"],
        "alice@student.uni.example"
    );
    assert_eq!(first_a.data(), first_b.data());

    let dir = tempfile::tempdir().unwrap();
    let file = write_policy(&dir, "policy.csv", &contact_redacted_for_reception());
    let published = confide::cli::publish_policy(
        &a.db_url,
        &file,
        Some("test"),
        Some("reception: no contact"),
    )
    .await
    .unwrap();
    assert_eq!(published.id, 1);

    // Within the poll interval (1 s) plus the load, bounded here at 10 s.
    for app in [&a, &b] {
        let res = until_version(app, "1", Duration::from_secs(10)).await;
        res.assert_no_errors();
        assert!(res.data()["student"]["email"].is_null(), "{:#}", res.body);
        assert_eq!(
            res.redaction(json!(["student", "email"])).as_deref(),
            Some("ROLE_NOT_PERMITTED")
        );
        assert_eq!(res.data()["student"]["name"], "Alice Example");
    }

    // The audit records of a request name the version that decided it, and the
    // chain (whose hash covers the version) still verifies.
    let last = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Seq)
        .one(&a.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.policy_version.as_deref(), Some("1"));
    let earlier = audit_event::Entity::find()
        .order_by_asc(audit_event::Column::Seq)
        .all(&a.db)
        .await
        .unwrap();
    assert!(earlier
        .iter()
        .any(|e| e.policy_version.as_deref() == Some(embedded.as_str())));
    let (verified, line) = confide::cli::verify_audit(&a.db_url).await.unwrap();
    assert!(verified, "{line}");
}

#[tokio::test]
async fn a_malformed_policy_is_refused_and_the_old_one_keeps_serving() {
    let a = crate::helpers::spawn_app_with(|s| s.policy_poll_secs = 1).await;
    let b = a.another_instance(|s| s.policy_poll_secs = 1).await;
    let dir = tempfile::tempdir().unwrap();

    // Refused by the command: nothing is stored.
    let bad = write_policy(
        &dir,
        "bad.csv",
        &format!(
            "{}\np, reception, any, CONTACT, allow_maybe, -\n",
            confide::policy::DEFAULT_POLICY
        ),
    );
    let refused = confide::cli::publish_policy(&a.db_url, &bad, Some("test"), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("does not load"), "{refused}");
    assert!(policy_version::Entity::find()
        .all(&a.db)
        .await
        .unwrap()
        .is_empty());

    let good = write_policy(&dir, "good.csv", &contact_redacted_for_reception());
    confide::cli::publish_policy(&a.db_url, &good, Some("test"), None)
        .await
        .unwrap();
    for app in [&a, &b] {
        until_version(app, "1", Duration::from_secs(10)).await;
    }

    // A version that does not load written straight to the table (by hand, or
    // by another release): never served; both keep serving version 1.
    let body = "p, reception, any, CONTACT, allow, -\n".to_owned();
    policy_version::ActiveModel {
        id: Set(2),
        sha256: Set(confide::policy::live::sha256_hex(&body)),
        body: Set(body),
        published_at: Set(chrono::Utc::now()),
        published_by: Set("psql".to_owned()),
        comment: Set(None),
    }
    .insert(&a.db)
    .await
    .unwrap();
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(3) {
        for app in [&a, &b] {
            let res = reception_view(app).await;
            assert_eq!(policy_version_of(&res), "1");
            assert!(res.data()["student"]["email"].is_null());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // An instance starting now refuses to start on it (fail closed) ...
    let mut settings = confide::settings::Settings::new(&a.db_url, crate::helpers::SECRET);
    settings.policy_poll_secs = 1;
    assert!(confide::startup::Application::build(settings)
        .await
        .is_err());

    // ... and the next good version is served by both.
    let shipped = write_policy(&dir, "shipped.csv", confide::policy::DEFAULT_POLICY);
    let v3 = confide::cli::publish_policy(&a.db_url, &shipped, Some("test"), None)
        .await
        .unwrap();
    assert_eq!(v3.id, 3);
    for app in [&a, &b] {
        let res = until_version(app, "3", Duration::from_secs(10)).await;
        assert_eq!(res.data()["student"]["email"], "alice@student.uni.example");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_makes_an_instance_check_for_a_new_version_at_once() {
    // No polling to speak of: only the signal can bring the version in.
    let a = crate::helpers::spawn_app_with(|s| s.policy_poll_secs = 3600).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_policy(&dir, "policy.csv", &contact_redacted_for_reception());
    let before = reception_view(&a).await;
    assert!(policy_version_of(&before).starts_with("embedded:"));
    confide::cli::publish_policy(&a.db_url, &file, Some("test"), None)
        .await
        .unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let res = until_version(&a, "1", Duration::from_secs(10)).await;
    assert!(res.data()["student"]["email"].is_null());
}

/// PostgreSQL: instances starting at once over a fresh database both migrate
/// it safely (an advisory lock serialises them: the second finds nothing
/// pending), and an instance started with `--no-migrate` on a database with a
/// migration pending refuses to start. (SQLite: one host, one instance
/// migrating first; skipped.)
#[tokio::test]
async fn instances_starting_together_migrate_once_and_no_migrate_refuses_a_stale_schema() {
    let (url, _dir) = crate::helpers::fresh_database().await;
    if !url.starts_with("postgres") {
        eprintln!("skipped: PostgreSQL only (CONFIDE_TEST_DATABASE_URL)");
        return;
    }
    let stale = {
        let mut s = confide::settings::Settings::new(&url, crate::helpers::SECRET);
        s.no_migrate = true;
        s
    };
    let refused = confide::startup::Application::build(stale).await;
    assert!(refused.is_err(), "started on an unmigrated database");

    let settings = || confide::settings::Settings::new(&url, crate::helpers::SECRET);
    let (a, b, c) = tokio::join!(
        confide::startup::Application::build(settings()),
        confide::startup::Application::build(settings()),
        confide::startup::Application::build(settings()),
    );
    assert!(
        a.is_ok() && b.is_ok() && c.is_ok(),
        "an instance failed to start"
    );
    let mut migrated = confide::settings::Settings::new(&url, crate::helpers::SECRET);
    migrated.no_migrate = true;
    confide::startup::Application::build(migrated)
        .await
        .expect("--no-migrate starts on a migrated database");
}
