//! Builds the application from typed settings (the one place startup happens).

use crate::auth::Authenticator;
use crate::error::AppError;
use crate::graphql::{self, ConfideSchema, Limits};
use crate::policy;
use crate::settings::Settings;
use crate::{db, demo};
use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use sea_orm::DatabaseConnection;
use std::net::TcpListener;
use std::sync::Arc;
use tracing::Instrument;

/// Shared, immutable state of a running server.
pub struct AppState {
    pub db: DatabaseConnection,
    /// The policy in force: each request takes one snapshot of it when it starts.
    pub policy: Arc<policy::live::Live>,
    pub auth: Authenticator,
    pub schema: ConfideSchema,
    /// The schema outside audiences are served by: without introspection and
    /// suggestions unless configured otherwise.
    pub outside_schema: ConfideSchema,
    pub graphiql: bool,
    pub body_timeout: std::time::Duration,
    pub limits: Limits,
    pub report_cost: bool,
    pub rate_limits: crate::edge::RateLimits,
    /// The Content-Security-Policy of the GraphiQL page.
    pub graphiql_csp: String,
}

pub struct Application {
    port: u16,
    server: Server,
    /// The admin listener (`/metrics`), when configured.
    admin: Option<(u16, Server)>,
    state: web::Data<AppState>,
    /// Checks for new policy versions while the server runs.
    policy_watcher: WatcherGuard,
}

/// Stops the policy watcher with the server (or if the server never ran).
struct WatcherGuard(tokio::task::JoinHandle<()>);

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// On SQLite, the least time between two audit batch commits by default
/// (`--audit-commit-interval-ms`): Q2 at 16 connections +3-22 % requests/s,
/// 9-23 % less CPU per request than committing back to back (run 18).
const DEFAULT_SQLITE_AUDIT_COMMIT_INTERVAL_MS: u64 = 10;

impl Application {
    /// Connects to and migrates the database, loads the policy and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, AppError> {
        let defaults = db::DbOptions::default();
        let options = db::DbOptions {
            statement_timeout: settings
                .database
                .statement_timeout_secs
                .map(std::time::Duration::from_secs)
                .unwrap_or(defaults.statement_timeout),
            busy_timeout: settings
                .database
                .busy_timeout_ms
                .map(std::time::Duration::from_millis)
                .unwrap_or(defaults.busy_timeout),
            tls: settings.database.tls,
            pool_size: settings.database.pool_size,
        };
        let db = db::connect_with(&settings.database.resolved_url(), options).await?;
        if settings.no_migrate {
            db::check_migrated(&db).await?;
        } else {
            db::migrate(&db).await?;
        }
        Self::build_with_db(settings, db).await
    }

    pub async fn build_with_db(
        settings: Settings,
        db: DatabaseConnection,
    ) -> Result<Self, AppError> {
        let policy = Arc::new(policy::live::Live::new(
            policy::live::initial(&db, settings.policy_path.as_deref()).await?,
        ));
        let policy_watcher = policy.clone().spawn_watcher(
            db.clone(),
            std::time::Duration::from_secs(settings.policy_poll_secs),
        );
        let auth = Authenticator::from_settings(&settings.jwt)?;
        auth.start_key_refresh();
        let backend = db.get_database_backend();
        let audit_commit_interval =
            std::time::Duration::from_millis(settings.database.audit_commit_interval_ms.unwrap_or(
                match backend {
                    sea_orm::DbBackend::Sqlite => DEFAULT_SQLITE_AUDIT_COMMIT_INTERVAL_MS,
                    _ => 0,
                },
            ));
        let statistics = settings
            .statistics
            .limits()
            .map_err(|e| AppError::internal("settings", e))?;
        // Root fields get spans only when asked for (they cost every field).
        let traced = settings.edge.trace_resolvers;
        let rate_limits = crate::edge::RateLimits::from_settings(&settings.edge);
        if rate_limits.any() {
            let limits = rate_limits.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    every.tick().await;
                    limits.forget_idle();
                }
            });
        }
        let state = web::Data::new(AppState {
            db,
            policy,
            auth,
            schema: graphql::schema_traced(traced),
            outside_schema: if settings.outside_introspection {
                graphql::schema_traced(traced)
            } else {
                graphql::schema_builder_traced(traced)
                    .disable_introspection()
                    .disable_suggestions()
                    .finish()
            },
            graphiql: settings.graphiql,
            body_timeout: std::time::Duration::from_secs(settings.body_timeout_secs),
            limits: Limits {
                max_page_size: settings.max_page_size,
                cost: graphql::cost::CostLimits {
                    max_cost: settings.max_cost,
                    max_aliases: settings.max_aliases,
                    max_note_searches: settings.max_note_searches,
                    max_page_size: u64::from(settings.max_page_size),
                    ..graphql::cost::CostLimits::default()
                },
                services: Arc::new(settings.services.clone()),
                feed_settle: chrono::Duration::seconds(settings.feed_settle_secs.max(0)),
                emergency_review_working_days: settings.emergency_review_working_days,
                break_glass_max_minutes: settings.break_glass_max_minutes,
                risk_exception_max_hours: settings.risk_exception_max_hours,
                statistics: Arc::new(statistics),
                research: crate::research::Config::from_settings(&settings.research)?,
                population: Default::default(),
                audit: crate::service::audit::AuditBatcher::new(audit_commit_interval),
                writers: crate::db::WriterLicences::for_backend(backend),
                admission: graphql::admission::Admission::new(
                    settings.max_cost_in_flight,
                    std::time::Duration::from_millis(settings.admission_wait_ms),
                ),
            },
            report_cost: settings.report_cost,
            rate_limits,
            graphiql_csp: crate::edge::graphiql_csp(GRAPHIQL_PAGE),
        });
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| AppError::internal("bind", format!("{}: {e}", settings.bind)))?;
        let port = listener
            .local_addr()
            .map_err(|e| AppError::internal("bind", e))?
            .port();
        let data = state.clone();
        let edge = settings.edge.clone();
        let server = HttpServer::new(move || {
            // The last wrap is the outermost: the root span around everything,
            // security headers on every response (CORS refusals and 404s too).
            App::new()
                .wrap(crate::edge::cors(&edge))
                .wrap(crate::edge::security_headers(&edge))
                .wrap(tracing_actix_web::TracingLogger::<
                    crate::edge::ConfideRootSpan,
                >::new())
                .app_data(data.clone())
                .route("/graphql", web::post().to(graphql_handler))
                .route("/graphql", web::get().to(graphiql))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
        })
        .shutdown_timeout(10)
        // Slow clients: the head of a request within 5 s, at most N open
        // connections per worker (the rest wait in the backlog), idle
        // keep-alive connections closed after 30 s. The body has its own
        // timeout (`read_body`).
        .client_request_timeout(std::time::Duration::from_secs(5))
        .keep_alive(std::time::Duration::from_secs(30))
        .max_connections(settings.max_connections_per_worker);
        // actix's default: one worker per core the process may use.
        let server = match settings.http_workers {
            Some(workers) => server.workers(workers.into()),
            None => server,
        };
        let server = server
            .listen(listener)
            .map_err(|e| AppError::internal("listen", e))?
            .run();
        let admin = match &settings.edge.admin_bind {
            Some(bind) => Some(admin_server(bind, state.clone())?),
            None => None,
        };
        Ok(Application {
            port,
            server,
            admin,
            state,
            policy_watcher: WatcherGuard(policy_watcher),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the admin listener (`/metrics`), when one is configured.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin.as_ref().map(|(port, _)| *port)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let _watcher = self.policy_watcher;
        match self.admin {
            Some((_, admin)) => futures_util::future::try_join(self.server, admin)
                .await
                .map(|_| ()),
            None => self.server.await,
        }
    }

    /// Seeds demo data if the database has none.
    pub async fn seed_demo_data(&self) -> Result<(), AppError> {
        demo::seed(&self.state.db).await?;
        demo::seed_sharing(&self.state.db).await
    }

    /// A development token per demo caller (HS256 settings only).
    pub fn demo_tokens(&self) -> Result<Vec<(String, String)>, AppError> {
        demo::DEMO.tokens(&self.state.auth)
    }
}

/// The admin listener: Prometheus metrics at `GET /metrics`, nothing else.
fn admin_server(bind: &str, state: web::Data<AppState>) -> Result<(u16, Server), AppError> {
    let listener = TcpListener::bind(bind)
        .map_err(|e| AppError::internal("admin bind", format!("{bind}: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| AppError::internal("admin bind", e))?
        .port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .shutdown_timeout(5)
    .listen(listener)
    .map_err(|e| AppError::internal("admin listen", e))?
    .run();
    Ok((port, server))
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::telemetry::render(&state.db))
}

const GRAPHIQL_PAGE: &str = include_str!("assets/graphiql.html");

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// An error that ends a request before GraphQL runs, in the same shape and with
/// the same codes as any GraphQL error (one renderer: [`crate::error::response_body`]).
fn early_exit(err: &AppError, request_id: uuid::Uuid) -> HttpResponse {
    err.log();
    let status =
        StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.insert_header((REQUEST_ID_HEADER, request_id.to_string()));
    if matches!(err, AppError::Unauthenticated) {
        response.insert_header(("WWW-Authenticate", "Bearer"));
    }
    if let AppError::RateLimited { retry_after_secs } | AppError::Busy { retry_after_secs } = err {
        response.insert_header((
            actix_web::http::header::RETRY_AFTER,
            retry_after_secs.to_string(),
        ));
    }
    response.json(crate::error::response_body(err))
}

const REQUEST_ID_HEADER: &str = "x-request-id";

/// Reads the body up to [`MAX_BODY_BYTES`], within `timeout`.
async fn read_body(
    payload: web::Payload,
    timeout: std::time::Duration,
) -> Result<web::BytesMut, AppError> {
    tokio::time::timeout(timeout, read_all(payload))
        .await
        .map_err(|_| AppError::TooSlow)?
}

async fn read_all(mut payload: web::Payload) -> Result<web::BytesMut, AppError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::bad_input("body", format!("unreadable: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(AppError::TooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `POST /graphql`: authenticate from the headers first (nothing is read,
/// parsed or executed for an unauthenticated caller), then read and parse the
/// body and execute. Every request runs in a span named by its request id,
/// which is also in its response header and its audit records.
async fn graphql_handler(
    state: web::Data<AppState>,
    http: HttpRequest,
    payload: web::Payload,
    root: tracing_actix_web::RootSpan,
) -> HttpResponse {
    let root: tracing::Span = root.into();
    let request_id = crate::edge::request_id(&http, &root);
    root.record("request_id", tracing::field::display(request_id));
    let span = tracing::info_span!("graphql", id = %request_id, operation = tracing::field::Empty);
    let started = std::time::Instant::now();
    let (mut response, operation, code) = handle(state, http, payload, request_id)
        .instrument(span)
        .await;
    crate::telemetry::request(
        operation.as_deref(),
        code.as_deref(),
        started.elapsed().as_secs_f64(),
    );
    let headers = response.headers_mut();
    headers.insert(
        actix_web::http::header::HeaderName::from_static(REQUEST_ID_HEADER),
        actix_web::http::header::HeaderValue::from(RequestIdHeader(request_id, false)),
    );
    headers.insert(
        actix_web::http::header::HeaderName::from_static(TRACE_ID_HEADER),
        actix_web::http::header::HeaderValue::from(RequestIdHeader(request_id, true)),
    );
    response
}

const TRACE_ID_HEADER: &str = "x-trace-id";

/// A request id as a header value: the UUID, or its 32 hex digits (the W3C trace id).
struct RequestIdHeader(uuid::Uuid, bool);

impl From<RequestIdHeader> for actix_web::http::header::HeaderValue {
    fn from(RequestIdHeader(id, hex): RequestIdHeader) -> Self {
        let mut buffer = uuid::Uuid::encode_buffer();
        let text: &str = if hex {
            id.simple().encode_lower(&mut buffer)
        } else {
            id.hyphenated().encode_lower(&mut buffer)
        };
        // Hex digits and hyphens: always a valid header value.
        actix_web::http::header::HeaderValue::from_str(text)
            .unwrap_or_else(|_| actix_web::http::header::HeaderValue::from_static(""))
    }
}

/// A response, its operation name (if the request named one) and its first
/// error code (none: ok), for the request metrics.
type Handled = (HttpResponse, Option<String>, Option<String>);

fn exit(err: AppError, request_id: uuid::Uuid, operation: Option<String>) -> Handled {
    let response = early_exit(&err, request_id);
    (response, operation, Some(err.code().to_owned()))
}

async fn handle(
    state: web::Data<AppState>,
    http: HttpRequest,
    payload: web::Payload,
    request_id: uuid::Uuid,
) -> Handled {
    let mut headers = http
        .headers()
        .get_all(actix_web::http::header::AUTHORIZATION);
    let header = headers.next().and_then(|h| h.to_str().ok());
    if headers.next().is_some() {
        // Two credentials: which one is meant is ambiguous, so neither is used.
        tracing::info!("rejected request with more than one Authorization header");
        if let Err(limited) = state.rate_limits.check_unauthenticated(http.peer_addr()) {
            return exit(limited, request_id, None);
        }
        return exit(AppError::Unauthenticated, request_id, None);
    }
    let caller = match state.auth.authenticate(&state.db, header).await {
        Ok(caller) => caller,
        Err(e) => {
            if let Err(limited) = state.rate_limits.check_unauthenticated(http.peer_addr()) {
                return exit(limited, request_id, None);
            }
            return exit(e, request_id, None);
        }
    };
    if let Err(limited) = state.rate_limits.check_caller(&caller) {
        return exit(limited, request_id, None);
    }
    let body = match read_body(payload, state.body_timeout).await {
        Ok(body) => body,
        Err(e) => return exit(e, request_id, None),
    };
    let request = match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => request,
        Err(e) => {
            tracing::info!(error = %e, "unparseable GraphQL request body");
            let err = AppError::bad_input("body", "must be a JSON GraphQL request (one operation)");
            return exit(err, request_id, None);
        }
    };
    let mut operation = None;
    let request = match registered_operation(&state.db, &caller, request).await {
        Ok(request) => request,
        Err(e) => return exit(e, request_id, None),
    };
    let schema = if caller.role.is_outside() {
        &state.outside_schema
    } else {
        &state.schema
    };
    let mut answer = graphql::execute_named(
        schema,
        state.db.clone(),
        // One snapshot of the policy decides the whole request.
        state.policy.snapshot(),
        caller,
        state.limits.clone(),
        state.report_cost,
        request_id,
        request,
        &mut operation,
    )
    .await;
    if let Some(name) = &operation {
        tracing::Span::current().record("operation", name.as_str());
    }
    if let Some(retry_after_secs) = busy(&answer.response) {
        // Refused before anything ran: answered as the HTTP edge's other refusals.
        return exit(AppError::Busy { retry_after_secs }, request_id, operation);
    }
    let code = answer.response.errors.first().map(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| match x.get("code") {
                Some(async_graphql::Value::String(code)) => Some(code.clone()),
                _ => None,
            })
            .unwrap_or_default()
    });
    answer.response.extensions.insert(
        "requestId".to_owned(),
        async_graphql::Value::String(request_id.to_string()),
    );
    answer.response.extensions.insert(
        "traceId".to_owned(),
        async_graphql::Value::String(request_id.simple().to_string()),
    );
    let body = match answer.to_json() {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "the response could not be serialised");
            let err = AppError::internal("response", "the response could not be serialised");
            return exit(err, request_id, operation);
        }
    };
    let http_response = HttpResponse::Ok()
        .content_type("application/graphql-response+json")
        .body(body);
    (http_response, operation, code)
}

/// `Some(retry after)` when the server had no room to run the request
/// (`SERVER_BUSY`, HTTP 503).
fn busy(response: &async_graphql::Response) -> Option<u64> {
    let first = response.errors.first()?.extensions.as_ref()?;
    match (first.get("code"), first.get("retryAfterSeconds")) {
        (Some(async_graphql::Value::String(code)), Some(async_graphql::Value::Number(n)))
            if code == "SERVER_BUSY" =>
        {
            n.as_u64()
        }
        _ => None,
    }
}

/// The document a request runs. A request may name a registered operation by
/// hash (Apollo's `extensions.persistedQuery.sha256Hash`, with or without the
/// query text; with it, the hash must be the text's): the registered document
/// is run. Departments, university services and partners run registered
/// operations only: a document whose text is not registered is refused
/// (`OperationNotRegistered`) before any parsing or execution. A hash alone
/// that nothing is registered under is `PersistedQueryNotFound` for everyone.
/// Staff may send any document (within the cost limits).
async fn registered_operation(
    db: &sea_orm::DatabaseConnection,
    caller: &crate::auth::Caller,
    mut request: async_graphql::Request,
) -> Result<async_graphql::Request, AppError> {
    use crate::service::operations;
    let named = request
        .extensions
        .remove("persistedQuery")
        .map(|v| match v {
            async_graphql::Value::Object(map) => match map.get("sha256Hash") {
                Some(async_graphql::Value::String(h)) => Ok(h.to_ascii_lowercase()),
                _ => Err(AppError::bad_input(
                    "persistedQuery",
                    "must carry a sha256Hash string",
                )),
            },
            _ => Err(AppError::bad_input("persistedQuery", "must be an object")),
        })
        .transpose()?;
    let text = !request.query.trim().is_empty();
    let hash = match (&named, text) {
        (Some(h), true) if *h != operations::hash(&request.query) => {
            return Err(AppError::bad_input(
                "persistedQuery",
                "sha256Hash is not the hash of the query",
            ))
        }
        (Some(h), _) => h.clone(),
        (None, _) if !caller.role.is_outside() => return Ok(request),
        (None, _) => operations::hash(&request.query),
    };
    match operations::find(db, &hash).await? {
        Some(op) => {
            tracing::info!(operation = %hash, name = ?op.name, "registered operation");
            request.query = op.document;
            Ok(request)
        }
        None if !caller.role.is_outside() && text => Ok(request),
        // A hash alone, registered under nothing: Apollo's answer, so that a
        // client resends the text (refused below if the caller is an
        // outside audience and the text is not registered).
        None if !text => {
            tracing::info!(operation = %hash, "persisted query not found");
            Err(AppError::PersistedQueryNotFound)
        }
        None => {
            tracing::info!(operation = %hash, role = caller.role.as_str(), "refused an unregistered operation");
            Err(AppError::OperationNotRegistered)
        }
    }
}

/// GraphiQL, when enabled: a page whose scripts are exact versions checked by
/// their integrity hashes. Off: 404.
async fn graphiql(state: web::Data<AppState>) -> HttpResponse {
    if !state.graphiql {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            actix_web::http::header::CONTENT_SECURITY_POLICY,
            state.graphiql_csp.as_str(),
        ))
        .body(GRAPHIQL_PAGE)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Ready while the database takes a write, within two seconds: a locked,
/// full or read-only database answers 503 until it recovers (no restart).
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let probe = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        db::write_probe(&state.db),
    )
    .await;
    match probe {
        Ok(Ok(())) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Ok(Err(e)) => {
            e.log();
            HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "unavailable" }))
        }
        Err(_) => {
            tracing::warn!("database did not take a write within 2 s");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "unavailable" }))
        }
    }
}
