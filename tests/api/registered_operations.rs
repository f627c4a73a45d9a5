//! Contracts with outside audiences: departments, university services and
//! partners run registered operations only (by SHA-256, Apollo's
//! `extensions.persistedQuery.sha256Hash`), registered with
//! `confide operations add FILE` and listed by the DPO with the data
//! categories each can return; staff run any document within the limits.

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use confide::domain::Role;
use confide::service::operations;
use serde_json::{json, Value};

const PARTNER_DOC: &str = "query PartnerFeed { partnerFeed(first: 5) { edges { node { studentId student { name email cases { status } } } } } }";

async fn post(app: &TestApp, who: (uuid::Uuid, Role), body: Value) -> crate::helpers::Gql {
    let token = app.token(who.0, who.1);
    app.post_unregistered(Some(&format!("Bearer {token}")), body)
        .await
}

fn by_hash(hash: &str) -> Value {
    json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } })
}

fn refused_as_unregistered(gql: &crate::helpers::Gql) {
    assert_eq!(gql.status, 403, "{:#}", gql.body);
    assert_eq!(gql.codes(), vec!["FORBIDDEN"], "{:#}", gql.body);
    assert_eq!(
        gql.errors()[0]["extensions"]["reason"],
        json!("OPERATION_NOT_REGISTERED")
    );
    assert!(gql.data().is_null());
}

/// `confide operations <args>` on the app's database.
fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_confide"))
        .arg("operations")
        .args(args)
        .arg("--database-url")
        .arg(&app.db_url)
        .env_remove("CONFIDE_DATABASE_URL")
        .output()
        .unwrap()
}

#[tokio::test]
async fn unregistered_partner_operation_is_refused() {
    let app = spawn_app().await;
    let nhs = (app.demo.nhs_trust, Role::Partner);
    // Raw query text nobody registered.
    let gql = post(&app, nhs, json!({ "query": PARTNER_DOC })).await;
    refused_as_unregistered(&gql);
    // A hash alone that nothing is registered under: Apollo's
    // PERSISTED_QUERY_NOT_FOUND (for staff as well), nothing executed.
    let gql = post(&app, nhs, by_hash(&operations::hash(PARTNER_DOC))).await;
    assert_eq!(
        gql.codes(),
        vec!["PERSISTED_QUERY_NOT_FOUND"],
        "{:#}",
        gql.body
    );
    assert_eq!(gql.errors()[0]["message"], json!("PersistedQueryNotFound"));
    assert!(gql.data().is_null());
    // The hash with the (unregistered) text: refused as unregistered.
    let mut body = by_hash(&operations::hash(PARTNER_DOC));
    body["query"] = json!(PARTNER_DOC);
    refused_as_unregistered(&post(&app, nhs, body).await);
    // Departments and university services alike.
    for who in [
        (app.demo.history_department, Role::Department),
        (app.demo.accommodation, Role::UniversityService),
    ] {
        refused_as_unregistered(&post(&app, who, json!({ "query": "{ me { id name } }" })).await);
    }
    // Nothing was executed: the refusal left no audit record of a read.
    // Staff run any document (within the cost limits), registered or not.
    let staff = post(
        &app,
        (app.demo.counsellor, Role::Practitioner),
        json!({ "query": "{ me { id name } }" }),
    )
    .await;
    staff.assert_no_errors();
    assert!(staff.data()["me"]["name"].is_string());
    // Staff sending an unknown hash alone get the same answer, then may send
    // the text with it (Apollo's automatic persisted queries flow).
    let counsellor = (app.demo.counsellor, Role::Practitioner);
    let text = "{ me { id } }";
    let gql = post(&app, counsellor, by_hash(&operations::hash(text))).await;
    assert_eq!(
        gql.codes(),
        vec!["PERSISTED_QUERY_NOT_FOUND"],
        "{:#}",
        gql.body
    );
    let mut body = by_hash(&operations::hash(text));
    body["query"] = json!(text);
    post(&app, counsellor, body).await.assert_no_errors();
    // Nothing was registered by any of this.
    assert!(operations::list(&app.db).await.unwrap().is_empty());
}

#[tokio::test]
async fn registered_partner_operation_is_served() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("partner_feed.graphql");
    std::fs::write(&file, PARTNER_DOC).unwrap();
    let out = cli(
        &app,
        &["add", file.to_str().unwrap(), "--name", "nhs-trust-feed"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(hash, operations::hash(PARTNER_DOC));
    let stored = operations::find(&app.db, &hash).await.unwrap().unwrap();
    assert_eq!(stored.name.as_deref(), Some("nhs-trust-feed"));

    let nhs = (app.demo.nhs_trust, Role::Partner);
    // By hash alone: the registered document runs, through the same guard.
    let gql = post(&app, nhs, by_hash(&hash)).await;
    gql.assert_no_errors();
    assert!(
        gql.data()["partnerFeed"]["edges"].is_array(),
        "{:#}",
        gql.body
    );
    // The registered text itself is the same operation.
    post(&app, nhs, json!({ "query": PARTNER_DOC }))
        .await
        .assert_no_errors();
    // A hash that is not the text's: refused as bad input.
    let mut body = by_hash(&hash);
    body["query"] = json!("{ me { id name } }");
    let gql = post(&app, nhs, body).await;
    assert_eq!(gql.codes(), vec!["BAD_USER_INPUT"], "{:#}", gql.body);
    // The same text with one more field is another document: refused.
    let widened = PARTNER_DOC.replace("email", "email phone");
    refused_as_unregistered(&post(&app, nhs, json!({ "query": widened })).await);
}

#[tokio::test]
async fn registered_operations_still_pass_the_cost_limits() {
    let app = spawn_app_with(|s| s.max_cost = 50).await;
    let op = operations::register(&app.db, PARTNER_DOC, "test")
        .await
        .unwrap();
    let gql = post(
        &app,
        (app.demo.nhs_trust, Role::Partner),
        by_hash(&op.sha256),
    )
    .await;
    assert_eq!(gql.codes(), vec!["QUERY_TOO_COSTLY"], "{:#}", gql.body);
}

const LIST: &str = "{ registeredOperations { id sha256Hash name document fieldClasses dataCategories registeredBy registeredAt } }";

#[tokio::test]
async fn the_dpo_lists_registered_operations_with_their_data_categories() {
    let app = spawn_app().await;
    let op = operations::register(&app.db, PARTNER_DOC, "test")
        .await
        .unwrap();
    let gql = post(&app, (app.demo.dpo, Role::Dpo), json!({ "query": LIST })).await;
    gql.assert_no_errors();
    let list = gql.data()["registeredOperations"].as_array().unwrap();
    let row = list
        .iter()
        .find(|r| r["sha256Hash"] == json!(op.sha256))
        .unwrap();
    assert_eq!(row["name"], json!("PartnerFeed"));
    assert_eq!(row["document"], json!(PARTNER_DOC));
    assert_eq!(
        row["dataCategories"],
        json!(["CONTACT", "IDENTITY", "SUPPORT_SUMMARY"])
    );
    assert_eq!(
        row["fieldClasses"],
        json!(["CONTACT", "FEED_ENTRIES", "IDENTITY", "SUPPORT_SUMMARY"])
    );
    // The CLI lists the same.
    let out = cli(&app, &["list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&op.sha256) && text.contains("CONTACT,IDENTITY,SUPPORT_SUMMARY"),
        "{text}"
    );
}

#[tokio::test]
async fn a_non_dpo_is_refused_the_listing() {
    let app = spawn_app().await;
    operations::register(&app.db, PARTNER_DOC, "test")
        .await
        .unwrap();
    for who in [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.counselling_lead, Role::ServiceLead),
        (app.demo.admin, Role::Admin),
    ] {
        let gql = post(&app, who, json!({ "query": LIST })).await;
        assert_eq!(gql.codes(), vec!["FORBIDDEN"], "{who:?}: {:#}", gql.body);
        assert!(gql.data()["registeredOperations"].is_null());
        assert!(!gql.body.to_string().contains("PartnerFeed"));
    }
    // Even registered, the listing is no partner's to run.
    let op = operations::register(&app.db, LIST, "test").await.unwrap();
    let gql = post(
        &app,
        (app.demo.nhs_trust, Role::Partner),
        by_hash(&op.sha256),
    )
    .await;
    assert_eq!(gql.codes(), vec!["FORBIDDEN"], "{:#}", gql.body);
    assert!(!gql.body.to_string().contains("PartnerFeed"));
}

#[tokio::test]
async fn registration_of_an_invalid_document_is_refused_with_bad_user_input() {
    let app = spawn_app().await;
    for doc in [
        "{ partnerFeed(first: 5) { edges { node { nope } } } }",
        "query { ",
        "query A { me { id } } query B { me { name } }",
        "{ __schema { types { name } } }",
    ] {
        match operations::register(&app.db, doc, "test").await {
            Err(e) => assert_eq!(e.code(), "BAD_USER_INPUT", "{doc}"),
            Ok(_) => panic!("{doc} registered"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.graphql");
    std::fs::write(&file, "{ student(id: \"x\") { shoeSize } }").unwrap();
    let out = cli(&app, &["add", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("BAD_USER_INPUT") && err.contains("shoeSize"),
        "{err}"
    );
    // Nothing was stored.
    assert!(operations::list(&app.db).await.unwrap().is_empty());
}
