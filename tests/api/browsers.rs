//! Browsers (issue 12, item 2): CORS for configured origins only, security
//! headers on every response, GraphiQL only where enabled.

use crate::helpers::{id, spawn_app, spawn_app_with, TestApp};
use confide::domain::Role;
use serde_json::json;

const DASHBOARD: &str = "https://dashboard.example.ac.uk";
const READ: &str = r#"query($id: ID!) { student(id: $id) { name } }"#;

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("preflight")
}

async fn cross_origin_post(app: &TestApp, origin: &str) -> reqwest::Response {
    let token = app.token(app.demo.counsellor, Role::Practitioner);
    app.client
        .post(format!("{}/graphql", app.address))
        .header("Origin", origin)
        .bearer_auth(token)
        .json(&json!({ "query": READ, "variables": { "id": id(app.demo.alice) } }))
        .send()
        .await
        .expect("request")
}

fn header<'r>(response: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_headers_on_preflight_and_request() {
    let app = spawn_app_with(|s| s.edge.cors_origins = vec![DASHBOARD.to_owned()]).await;
    let pre = preflight(&app, DASHBOARD).await;
    assert_eq!(pre.status(), 200);
    assert_eq!(header(&pre, "access-control-allow-origin"), Some(DASHBOARD));
    let methods = header(&pre, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST"), "{methods}");
    let headers = header(&pre, "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(headers.contains("authorization"), "{headers}");
    // Credentials are off unless configured.
    assert_eq!(header(&pre, "access-control-allow-credentials"), None);

    let res = cross_origin_post(&app, DASHBOARD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "access-control-allow-origin"), Some(DASHBOARD));
    let exposed = header(&res, "access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["data"]["student"]["name"], "Alice Example", "{body:#}");
}

#[tokio::test]
async fn credentials_are_allowed_only_when_configured() {
    let app = spawn_app_with(|s| {
        s.edge.cors_origins = vec![DASHBOARD.to_owned()];
        s.edge.cors_allow_credentials = true;
    })
    .await;
    let pre = preflight(&app, DASHBOARD).await;
    assert_eq!(pre.status(), 200);
    assert_eq!(
        header(&pre, "access-control-allow-credentials"),
        Some("true")
    );
}

#[tokio::test]
async fn a_refused_origin_gets_no_cors_headers_and_its_preflight_is_refused() {
    let app = spawn_app_with(|s| s.edge.cors_origins = vec![DASHBOARD.to_owned()]).await;
    let pre = preflight(&app, "https://evil.example.com").await;
    assert_eq!(pre.status(), 400, "a refused origin's preflight is refused");
    assert_eq!(header(&pre, "access-control-allow-origin"), None);
    assert_eq!(header(&pre, "access-control-allow-methods"), None);
    // The security headers are on the refusal too.
    assert_eq!(header(&pre, "x-content-type-options"), Some("nosniff"));

    // A request a browser sends anyway is not allowed to its origin: the
    // browser does not let the page read the answer. (Same-origin requests,
    // e.g. GraphiQL's, carry an Origin too, so the request itself is served.)
    let res = cross_origin_post(&app, "https://evil.example.com").await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    assert_eq!(header(&res, "access-control-allow-credentials"), None);

    // With no origins configured at all, even the dashboard is refused.
    let closed = spawn_app().await;
    let pre = preflight(&closed, DASHBOARD).await;
    assert_eq!(pre.status(), 400);
    assert_eq!(header(&pre, "access-control-allow-origin"), None);
}

fn assert_security_headers(res: &reqwest::Response, what: &str) {
    assert_eq!(
        header(res, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        header(res, "referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(header(res, "x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(header(res, "cache-control"), Some("no-store"), "{what}");
    assert_eq!(
        header(res, "content-security-policy"),
        Some(confide::edge::API_CSP),
        "{what}"
    );
}

#[tokio::test]
async fn security_headers_are_on_every_response_type() {
    let app = spawn_app_with(|s| s.edge.hsts_max_age_secs = Some(31_536_000)).await;
    let token = app.token(app.demo.counsellor, Role::Practitioner);
    let url = format!("{}/graphql", app.address);

    let ok = cross_origin_post(&app, DASHBOARD).await;
    assert_eq!(ok.status(), 200);
    assert_security_headers(&ok, "200");
    assert_eq!(
        header(&ok, "strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );

    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_security_headers(&health, "healthz");

    let bad = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_security_headers(&bad, "400");

    let unauthenticated = app
        .client
        .post(&url)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_security_headers(&unauthenticated, "401");

    let missing = app
        .client
        .get(format!("{}/nowhere", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_security_headers(&missing, "404");

    // GraphiQL is off by default: GET /graphql is a 404 with the same headers.
    let graphiql = app.client.get(&url).send().await.unwrap();
    assert_eq!(graphiql.status(), 404);
    assert_security_headers(&graphiql, "graphiql off");
}

#[tokio::test]
async fn graphiql_when_enabled_has_a_policy_allowing_only_its_pinned_assets() {
    let app = spawn_app_with(|s| s.graphiql = true).await;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = header(&page, "content-security-policy")
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("script-src https://unpkg.com 'sha256-"),
        "{csp}"
    );
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(header(&page, "x-frame-options"), Some("DENY"));
    assert_eq!(header(&page, "x-content-type-options"), Some("nosniff"));
    // The inline script's hash is the hash of the script the page carries.
    let html = page.text().await.unwrap();
    assert_eq!(csp, confide::edge::graphiql_csp(&html));
}
