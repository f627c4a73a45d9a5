//! Rate limits (issue 12, item 4): per caller, per organisation and per
//! unauthenticated peer, answered 429 with `Retry-After` and a GraphQL body.

use crate::helpers::{spawn_app, spawn_app_with, Gql, TestApp};
use confide::domain::Role;
use serde_json::json;

/// Posts `{ __typename }`, registered (outside audiences run only
/// registered operations).
async fn post(app: &TestApp, token: Option<&str>) -> (Gql, Option<String>) {
    // Registering again is harmless (the first registration stays).
    let _ = confide::service::operations::register(&app.db, "{ __typename }", "test").await;
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": "{ __typename }" }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = response.status().as_u16();
    let body = response.json().await.expect("json body");
    (Gql { status, body }, retry_after)
}

fn assert_rate_limited(res: &Gql, retry_after: Option<String>) {
    assert_eq!(res.status, 429, "{:#}", res.body);
    assert_eq!(res.codes(), vec!["RATE_LIMITED"], "{:#}", res.body);
    assert!(res.body["data"].is_null());
    let secs: u64 = retry_after
        .expect("Retry-After on a 429")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&secs), "{secs}");
    assert_eq!(
        res.body["errors"][0]["extensions"]["retryAfterSeconds"].as_u64(),
        Some(secs)
    );
}

#[tokio::test]
async fn a_caller_over_its_rate_limit_gets_429_with_retry_after_and_others_are_served() {
    let app = spawn_app_with(|s| {
        s.edge.rate_limit_caller_per_second = 1;
        s.edge.rate_limit_caller_burst = 2;
    })
    .await;
    let counsellor = app.token(app.demo.counsellor, Role::Practitioner);
    for _ in 0..2 {
        let (res, _) = post(&app, Some(&counsellor)).await;
        res.assert_no_errors();
    }
    let (res, retry_after) = post(&app, Some(&counsellor)).await;
    assert_rate_limited(&res, retry_after);
    // Another caller has a limit of their own.
    let dpo = app.token(app.demo.dpo, Role::Dpo);
    let (res, _) = post(&app, Some(&dpo)).await;
    res.assert_no_errors();
    // After the wait, the caller is served again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (res, _) = post(&app, Some(&counsellor)).await;
    res.assert_no_errors();
}

#[tokio::test]
async fn an_organisation_shares_one_limit_across_its_callers() {
    let app = spawn_app_with(|s| {
        s.edge.rate_limit_organisation_per_second = 1;
        s.edge.rate_limit_organisation_burst = 1;
    })
    .await;
    let trust = app.token(app.demo.nhs_trust, Role::Partner);
    let (res, _) = post(&app, Some(&trust)).await;
    assert_eq!(res.status, 200, "{:#}", res.body);
    let (res, retry_after) = post(&app, Some(&trust)).await;
    assert_rate_limited(&res, retry_after);
    // Another organisation, and staff of no organisation, are not held back.
    let landlord = app.token(app.demo.landlord_a, Role::Partner);
    let (res, _) = post(&app, Some(&landlord)).await;
    assert_eq!(res.status, 200, "{:#}", res.body);
    let counsellor = app.token(app.demo.counsellor, Role::Practitioner);
    for _ in 0..3 {
        let (res, _) = post(&app, Some(&counsellor)).await;
        res.assert_no_errors();
    }
}

#[tokio::test]
async fn unauthenticated_requests_are_limited_by_peer_address() {
    let app = spawn_app_with(|s| {
        s.edge.rate_limit_unauthenticated_per_second = 1;
        s.edge.rate_limit_unauthenticated_burst = 1;
    })
    .await;
    let (res, _) = post(&app, None).await;
    assert_eq!(res.codes(), vec!["UNAUTHENTICATED"]);
    let (res, retry_after) = post(&app, None).await;
    assert_rate_limited(&res, retry_after);
    let (res, retry_after) = post(&app, Some("not-a-token")).await;
    assert_rate_limited(&res, retry_after);
    // An authenticated caller from the same address is not held back.
    let counsellor = app.token(app.demo.counsellor, Role::Practitioner);
    let (res, _) = post(&app, Some(&counsellor)).await;
    res.assert_no_errors();
}

#[tokio::test]
async fn limits_are_off_by_default() {
    let app = spawn_app().await;
    let counsellor = app.token(app.demo.counsellor, Role::Practitioner);
    for _ in 0..30 {
        let (res, _) = post(&app, Some(&counsellor)).await;
        res.assert_no_errors();
    }
}
