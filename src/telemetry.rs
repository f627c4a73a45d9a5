//! Metrics (Prometheus, served on the admin listener) and tracing (spans per
//! request, exported with OpenTelemetry OTLP when configured; W3C trace context).
//!
//! Metrics are process-wide (one registry per process, like the tracing
//! subscriber): every counter a hot path touches is registered once, up front,
//! and held as a handle, so counting a policy decision is one atomic add.
//! See `docs/operations.md` for each metric, its labels and a Grafana panel.

use crate::policy::{Outcome, Reason};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::HashSet;
use std::sync::{LazyLock, RwLock};

/// Most distinct operation names labelled; later ones count as `other` (a
/// client chooses its operation names, so they must not grow the series without bound).
const MAX_OPERATION_NAMES: usize = 256;

/// The error codes an outcome label may take (anything else: `ERROR`).
const OUTCOMES: &[&str] = &[
    "ok",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "QUERY_TOO_COSTLY",
    "RATE_LIMITED",
    "INTERNAL",
];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Policy decisions: `[allow, redact × reasons, deny × reasons]`.
    decisions: Vec<IntCounter>,
    audit_ok: IntCounter,
    audit_failed: IntCounter,
    audit_events: IntCounter,
    audit_withheld: IntCounter,
    /// The batched audit writer: `[batch duration, requests per batch, a
    /// request's wait for its batch's commit]`.
    audit_batches: [Histogram; 3],
    audit_rechained: IntCounter,
    cost_refusals: IntCounterVec,
    rate_limited: IntCounterVec,
    pool: IntGaugeVec,
    /// The in-flight cost budget: `[budget, in_flight_cost, waiting]`.
    admission: [IntGauge; 3],
    operations: RwLock<HashSet<String>>,
    /// Histograms per (operation, outcome), created on first use.
    latency_cache: RwLock<std::collections::HashMap<(String, &'static str), Histogram>>,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new(
            "confide_graphql_requests_total",
            "GraphQL requests by operation name and outcome (ok or the first error code).",
        ),
        &["operation", "outcome"],
    )?;
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "confide_graphql_request_duration_seconds",
            "Time from authentication to the response being ready, by operation and outcome.",
        )
        .buckets(vec![
            0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]),
        &["operation", "outcome"],
    )?;
    let decisions_vec = IntCounterVec::new(
        Opts::new(
            "confide_policy_decisions_total",
            "Field and write decisions of the policy, by outcome and reason code.",
        ),
        &["outcome", "reason"],
    )?;
    let mut decisions = vec![decisions_vec.get_metric_with_label_values(&["allow", ""])?];
    for outcome in ["redact", "deny"] {
        for reason in Reason::ALL {
            decisions
                .push(decisions_vec.get_metric_with_label_values(&[outcome, reason.as_str()])?);
        }
    }
    let audit = IntCounterVec::new(
        Opts::new(
            "confide_audit_writes_total",
            "Audit trail writes (one per request or service write that audits), by result.",
        ),
        &["result"],
    )?;
    let audit_events = IntCounter::new(
        "confide_audit_events_total",
        "Audit records written (rows appended to the chain).",
    )?;
    let audit_withheld = IntCounter::new(
        "confide_audit_withheld_responses_total",
        "Responses withheld because their audit records (or the writes with them) could not be committed.",
    )?;
    // The audit writer's batches and a request's wait for one: 0.5 ms to 1 s.
    const AUDIT_SECONDS: [f64; 11] = [
        0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 1.0,
    ];
    let audit_batch_seconds = Histogram::with_opts(
        HistogramOpts::new(
            "confide_audit_batch_duration_seconds",
            "Time the audit writer spends on one batch of read-only requests' records, from its start to its commit (the sum over time: the writer's busy share).",
        )
        .buckets(AUDIT_SECONDS.to_vec()),
    )?;
    let audit_batch_requests = Histogram::with_opts(
        HistogramOpts::new(
            "confide_audit_batch_requests",
            "Read-only requests whose audit records one batch of the audit writer carries.",
        )
        .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
    )?;
    let audit_wait_seconds = Histogram::with_opts(
        HistogramOpts::new(
            "confide_audit_wait_seconds",
            "Time a read-only request waits, once executed, for its audit records' commit by the audit writer.",
        )
        .buckets(AUDIT_SECONDS.to_vec()),
    )?;
    registry.register(Box::new(audit_batch_seconds.clone()))?;
    registry.register(Box::new(audit_batch_requests.clone()))?;
    registry.register(Box::new(audit_wait_seconds.clone()))?;
    let audit_rechained = IntCounter::new(
        "confide_audit_batches_rechained_total",
        "Audit batches (PostgreSQL) not appended after the chain head the writer last committed, because another writer had moved it or the lawful bases had changed, and chained again after the locked head.",
    )?;
    registry.register(Box::new(audit_rechained.clone()))?;
    let cost_refusals = IntCounterVec::new(
        Opts::new(
            "confide_cost_refusals_total",
            "Requests refused before execution for their cost (QUERY_TOO_COSTLY), by the limit exceeded.",
        ),
        &["limit"],
    )?;
    let rate_limited = IntCounterVec::new(
        Opts::new(
            "confide_rate_limited_total",
            "Requests refused by a limit: 429 by a rate limit (scope caller, organisation, unauthenticated), 503 for want of room in the in-flight cost budget (scope in_flight_cost).",
        ),
        &["scope"],
    )?;
    let pool = IntGaugeVec::new(
        Opts::new(
            "confide_db_pool_connections",
            "Database pool connections, by state (open, idle, max), read at scrape time.",
        ),
        &["state"],
    )?;
    registry.register(Box::new(requests.clone()))?;
    registry.register(Box::new(latency.clone()))?;
    registry.register(Box::new(decisions_vec))?;
    registry.register(Box::new(audit.clone()))?;
    registry.register(Box::new(audit_events.clone()))?;
    registry.register(Box::new(audit_withheld.clone()))?;
    registry.register(Box::new(cost_refusals.clone()))?;
    registry.register(Box::new(rate_limited.clone()))?;
    let admission = IntGaugeVec::new(
        Opts::new(
            "confide_admission",
            "The in-flight cost budget: its size (budget), the estimated cost of the requests running now (in_flight_cost) and the requests waiting in line for room (waiting).",
        ),
        &["state"],
    )?;
    registry.register(Box::new(pool.clone()))?;
    registry.register(Box::new(admission.clone()))?;
    Ok(Metrics {
        audit_ok: audit.get_metric_with_label_values(&["ok"])?,
        audit_failed: audit.get_metric_with_label_values(&["failed"])?,
        registry,
        requests,
        latency,
        decisions,
        audit_events,
        audit_withheld,
        audit_batches: [
            audit_batch_seconds,
            audit_batch_requests,
            audit_wait_seconds,
        ],
        audit_rechained,
        cost_refusals,
        rate_limited,
        pool,
        admission: [
            admission.get_metric_with_label_values(&["budget"])?,
            admission.get_metric_with_label_values(&["in_flight_cost"])?,
            admission.get_metric_with_label_values(&["waiting"])?,
        ],
        operations: RwLock::new(HashSet::new()),
        latency_cache: RwLock::new(Default::default()),
    })
}

static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| match build() {
    Ok(m) => Some(m),
    Err(e) => {
        tracing::error!(error = %e, "metrics could not be registered; none are recorded");
        None
    }
});

/// The process's metrics (`None` only if registering them failed, which is logged).
pub fn metrics() -> Option<&'static Metrics> {
    METRICS.as_ref()
}

/// Counts one policy decision (allocation-free: a pre-registered counter).
pub fn decision(outcome: Outcome) {
    if let Some(m) = metrics() {
        let index = match outcome {
            Outcome::Allow => 0,
            Outcome::Redact(r) => 1 + r.index(),
            Outcome::Deny(r) => 1 + Reason::COUNT + r.index(),
        };
        if let Some(c) = m.decisions.get(index) {
            c.inc();
        }
    }
}

/// Counts an audit write of `events` records, and whether it succeeded.
pub fn audit_write(ok: bool, events: usize) {
    if let Some(m) = metrics() {
        if ok {
            m.audit_ok.inc();
            m.audit_events.inc_by(events as u64);
        } else {
            m.audit_failed.inc();
        }
    }
}

/// One batch of the audit writer: how long it took and how many requests' records it carried.
pub fn audit_batch(seconds: f64, requests: usize) {
    if let Some(m) = metrics() {
        m.audit_batches[0].observe(seconds);
        m.audit_batches[1].observe(requests as f64);
    }
}

/// An audit batch chained again after the locked head (the head it was
/// chained after had moved).
pub fn audit_rechained() {
    if let Some(m) = metrics() {
        m.audit_rechained.inc();
    }
}

/// A read-only request's wait for its audit records' commit.
pub fn audit_wait(seconds: f64) {
    if let Some(m) = metrics() {
        m.audit_batches[2].observe(seconds);
    }
}

/// Counts a response withheld because its audit trail could not be committed.
pub fn audit_withheld() {
    if let Some(m) = metrics() {
        m.audit_withheld.inc();
    }
}

/// Counts a request refused for its cost (`what`: the limit exceeded).
pub fn cost_refused(what: &'static str) {
    if let Some(m) = metrics() {
        m.cost_refusals.with_label_values(&[what]).inc();
    }
}

/// The in-flight cost budget's size (set when the server is built).
pub fn admission_budget(budget: u32) {
    if let Some(m) = metrics() {
        m.admission[0].set(i64::from(budget));
    }
}

/// A request's share of the budget taken (positive) or given back (negative).
pub fn admission_in_flight(delta: i64) {
    if let Some(m) = metrics() {
        m.admission[1].add(delta);
    }
}

/// A request joined (1) or left (-1) the line for the budget.
pub fn admission_waiting(delta: i64) {
    if let Some(m) = metrics() {
        m.admission[2].add(delta);
    }
}

/// Counts a request answered 429 (`scope`: caller, organisation, unauthenticated).
pub fn rate_limited(scope: &'static str) {
    if let Some(m) = metrics() {
        m.rate_limited.with_label_values(&[scope]).inc();
    }
}

/// The label of an operation name: the name if it is a GraphQL name of at
/// most 64 characters among the first [`MAX_OPERATION_NAMES`] seen,
/// `anonymous` without one, else `other`.
fn operation_label(m: &Metrics, name: Option<&str>) -> String {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return "anonymous".to_owned();
    };
    let valid = name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !valid {
        return "other".to_owned();
    }
    let known = match m.operations.read() {
        Ok(set) => set.contains(name),
        Err(poisoned) => poisoned.into_inner().contains(name),
    };
    if known {
        return name.to_owned();
    }
    let mut set = match m.operations.write() {
        Ok(set) => set,
        Err(poisoned) => poisoned.into_inner(),
    };
    if set.len() < MAX_OPERATION_NAMES {
        set.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

/// The outcome label of an error code (`None`: ok).
fn outcome_label(code: Option<&str>) -> &'static str {
    let code = code.unwrap_or("ok");
    OUTCOMES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("ERROR")
}

/// Counts one GraphQL request and observes its latency.
pub fn request(operation: Option<&str>, error_code: Option<&str>, seconds: f64) {
    let Some(m) = metrics() else { return };
    let op = operation_label(m, operation);
    let outcome = outcome_label(error_code);
    m.requests.with_label_values(&[op.as_str(), outcome]).inc();
    let key = (op, outcome);
    let cached = match m.latency_cache.read() {
        Ok(cache) => cache.get(&key).cloned(),
        Err(poisoned) => poisoned.into_inner().get(&key).cloned(),
    };
    let histogram = match cached {
        Some(h) => h,
        None => {
            let h = m.latency.with_label_values(&[key.0.as_str(), outcome]);
            if let Ok(mut cache) = m.latency_cache.write() {
                cache.insert(key, h.clone());
            }
            h
        }
    };
    histogram.observe(seconds);
}

/// The metrics in Prometheus' text format, with the pool gauges read now.
pub fn render(db: &sea_orm::DatabaseConnection) -> String {
    let Some(m) = metrics() else {
        return String::new();
    };
    if let Some((open, idle, max)) = pool_usage(db) {
        m.pool.with_label_values(&["open"]).set(open);
        m.pool.with_label_values(&["idle"]).set(idle);
        m.pool.with_label_values(&["max"]).set(max);
    }
    let mut buffer = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut buffer) {
        tracing::error!(error = %e, "metrics could not be encoded");
    }
    String::from_utf8(buffer).unwrap_or_default()
}

/// Open, idle and most connections of the database pool.
fn pool_usage(db: &sea_orm::DatabaseConnection) -> Option<(i64, i64, i64)> {
    use sea_orm::DatabaseConnectionType as Kind;
    match &db.inner {
        Kind::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            Some((
                i64::from(pool.size()),
                pool.num_idle() as i64,
                i64::from(pool.options().get_max_connections()),
            ))
        }
        Kind::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            Some((
                i64::from(pool.size()),
                pool.num_idle() as i64,
                i64::from(pool.options().get_max_connections()),
            ))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------- tracing

/// The W3C trace context of a request (`traceparent`), read with
/// OpenTelemetry's propagator.
pub fn incoming_context(headers: &actix_web::http::header::HeaderMap) -> opentelemetry::Context {
    use opentelemetry::propagation::TextMapPropagator;
    struct Headers<'a>(&'a actix_web::http::header::HeaderMap);
    impl opentelemetry::propagation::Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&Headers(headers))
}

/// Installs the process's subscriber: logs to stderr (filter `CONFIDE_LOG`,
/// default `info`) and, with an OTLP endpoint, spans exported over OTLP/HTTP
/// (protobuf) in batches. Returns the tracer provider, to flush at exit.
pub fn init(
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("CONFIDE_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter());
    let Some(endpoint) = otlp_endpoint else {
        tracing_subscriber::registry().with(fmt).try_init()?;
        return Ok(None);
    };
    use opentelemetry::trace::TracerProvider;
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let endpoint = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(std::time::Duration::from_secs(5))
        .with_headers(Default::default())
        .build()?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("confide")
                .build(),
        )
        .build();
    let tracer = provider.tracer("confide");
    // Spans of the request, its resolvers, services and SQL statements
    // (`CONFIDE_TRACE`, default info: sqlx logs each statement at debug,
    // so `info,sqlx=debug` adds them).
    let trace_filter = tracing_subscriber::EnvFilter::try_from_env("CONFIDE_TRACE")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(trace_filter);
    tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()?;
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    Ok(Some(provider))
}

/// An async-graphql extension giving each root field its own span (a child of
/// the request's): deeper fields are not spanned, so a dashboard of hundreds of
/// fields costs a handful of spans, not hundreds.
pub struct RootFieldSpans;

impl async_graphql::extensions::ExtensionFactory for RootFieldSpans {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(RootFieldSpansExtension)
    }
}

struct RootFieldSpansExtension;

#[async_graphql::async_trait::async_trait]
impl async_graphql::extensions::Extension for RootFieldSpansExtension {
    async fn resolve(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        info: async_graphql::extensions::ResolveInfo<'_>,
        next: async_graphql::extensions::NextResolve<'_>,
    ) -> async_graphql::ServerResult<Option<async_graphql::Value>> {
        use tracing::Instrument;
        if info.path_node.parent.is_some() || info.is_for_introspection {
            return next.run(ctx, info).await;
        }
        let span = tracing::info_span!(
            "resolve",
            otel.name = %format_args!("{}.{}", info.parent_type, info.name),
            field = info.name,
        );
        next.run(ctx, info).instrument(span).await
    }
}
