//! Metrics and tracing (issue 12, items 5 and 6): Prometheus metrics on the
//! admin listener only; a W3C `traceparent` names the request in its response
//! and its audit records; spans exported over OTLP/HTTP when configured.

use crate::helpers::{id, spawn_app_with, TestApp, SECRET};
use confide::domain::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

const READ: &str = r#"query MetricsProbeRead($id: ID!) { student(id: $id) { name department } }"#;

pub(crate) async fn scrape(app: &TestApp) -> String {
    let admin = app.admin_address.as_ref().expect("admin listener");
    let res = app
        .client
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), 200);
    res.text().await.expect("text")
}

/// The value of the sample of `name` whose labels include all of `labels`
/// (0 when absent: a counter not yet touched).
pub(crate) fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_are_served_on_the_admin_address_only_and_move_with_requests() {
    let app = spawn_app_with(|s| s.edge.admin_bind = Some("127.0.0.1:0".to_owned())).await;
    // Not on the public listener.
    let public = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);

    let before = scrape(&app).await;
    let ok = [("operation", "MetricsProbeRead"), ("outcome", "ok")];
    let requests_before = sample(&before, "confide_graphql_requests_total", &ok);
    let decisions_before = sample(&before, "confide_policy_decisions_total", &[]);
    let audits_before = sample(&before, "confide_audit_writes_total", &[("result", "ok")]);
    let batches_before = sample(&before, "confide_audit_batch_duration_seconds_count", &[]);
    let waits_before = sample(&before, "confide_audit_wait_seconds_count", &[]);

    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            READ,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    res.assert_no_errors();
    // A refused costly request counts as a cost refusal.
    let costly = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            &format!(
                "{{ {} }}",
                (0..200)
                    .map(|i| format!("a{i}: __typename"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        costly.codes(),
        vec!["QUERY_TOO_COSTLY"],
        "{:#}",
        costly.body
    );

    let after = scrape(&app).await;
    assert!(sample(&after, "confide_graphql_requests_total", &ok) >= requests_before + 1.0);
    assert!(
        sample(
            &after,
            "confide_graphql_request_duration_seconds_count",
            &ok
        ) >= 1.0
    );
    assert!(sample(&after, "confide_policy_decisions_total", &[]) > decisions_before);
    assert!(
        sample(
            &after,
            "confide_policy_decisions_total",
            &[("outcome", "allow")]
        ) >= 1.0
    );
    assert!(sample(&after, "confide_audit_writes_total", &[("result", "ok")]) > audits_before);
    // The read's records went through the batched audit writer.
    assert!(sample(&after, "confide_audit_batch_duration_seconds_count", &[]) > batches_before);
    assert!(sample(&after, "confide_audit_batch_requests_sum", &[]) >= 1.0);
    assert!(sample(&after, "confide_audit_wait_seconds_count", &[]) > waits_before);
    assert!(sample(&after, "confide_cost_refusals_total", &[]) >= 1.0);
    assert!(
        sample(
            &after,
            "confide_graphql_requests_total",
            &[("outcome", "QUERY_TOO_COSTLY")]
        ) >= 1.0
    );
    assert!(sample(&after, "confide_db_pool_connections", &[("state", "max")]) >= 1.0);
    assert!(after.contains("# TYPE confide_graphql_request_duration_seconds histogram"));
}

#[tokio::test]
async fn a_traceparent_names_the_request_in_its_response_and_its_audit_records() {
    let app = spawn_app_with(|_| {}).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let token = app.token(app.demo.counsellor, Role::Practitioner);
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .json(&json!({ "query": READ, "variables": { "id": id(app.demo.alice) } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("x-trace-id").as_deref(), Some(trace));
    let request_id: uuid::Uuid = header("x-request-id").unwrap().parse().unwrap();
    assert_eq!(request_id.simple().to_string(), trace);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["extensions"]["traceId"], trace, "{body:#}");
    assert_eq!(body["extensions"]["requestId"], request_id.to_string());
    let audited = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::RequestId.eq(request_id))
        .all(&app.db)
        .await
        .unwrap();
    assert!(
        !audited.is_empty(),
        "the read is audited under the trace id"
    );
    assert!(audited
        .iter()
        .all(|r| r.student_id == Some(app.demo.alice) && r.actor_id == app.demo.counsellor));

    // Without a traceparent (or with a malformed one), the request gets a fresh id.
    for traceparent in [None, Some("00-not-a-trace-01")] {
        let mut request = app
            .client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&token)
            .json(&json!({ "query": "{ __typename }" }));
        if let Some(tp) = traceparent {
            request = request.header("traceparent", tp);
        }
        let res = request.send().await.unwrap();
        let own = res.headers()["x-trace-id"].to_str().unwrap().to_owned();
        assert_eq!(own.len(), 32);
        assert_ne!(own, trace);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["extensions"]["traceId"], own);
    }
}

/// The server binary, run with `--otlp-endpoint` pointing at a loopback
/// collector that accepts OTLP/HTTP protobuf posts: the request's span arrives,
/// under the trace id the request came with.
#[tokio::test]
async fn spans_are_exported_over_otlp_under_the_incoming_trace_id() {
    use actix_web::{web, App, HttpResponse, HttpServer};
    use std::sync::{Arc, Mutex};

    let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let sink = received.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let collector_port = listener.local_addr().unwrap().port();
    let collector = HttpServer::new(move || {
        let sink = sink.clone();
        App::new().route(
            "/v1/traces",
            web::post().to(move |body: web::Bytes| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push(body.to_vec());
                    HttpResponse::Ok()
                        .content_type("application/x-protobuf")
                        .finish()
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(collector);

    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_confide"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .arg("--otlp-endpoint")
        .arg(format!("http://127.0.0.1:{collector_port}"))
        .env(
            "CONFIDE_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display()),
        )
        .env("CONFIDE_JWT_SECRET", SECRET)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("CONFIDE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the server");
    let stdout = child.stdout.take().unwrap();
    let server = KillOnDrop(child);
    // "Confide listening on http://127.0.0.1:PORT ..."
    let port = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some((_, port)) = line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .and_then(|url| url.rsplit_once(':'))
            {
                return port.parse::<u16>().unwrap();
            }
        }
        panic!("the server stopped before listening");
    });
    let port = tokio::time::timeout(std::time::Duration::from_secs(60), port)
        .await
        .expect("the server listens")
        .unwrap();

    let trace = "0af7651916cd43dd8448eb211c80319c";
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .header("traceparent", format!("00-{trace}-b7ad6b7169203331-01"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["x-trace-id"], trace);

    let trace_bytes = hex_bytes(trace);
    let exported = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let found = received
                .lock()
                .unwrap()
                .iter()
                .any(|body| body.windows(16).any(|w| w == trace_bytes.as_slice()));
            if found {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    drop(server);
    exported.expect("a span of the trace reached the collector");
    // The request's span is in it, by name.
    let bodies = received.lock().unwrap();
    assert!(bodies.iter().any(|b| b
        .windows(b"POST /graphql".len())
        .any(|w| w == b"POST /graphql")));
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
