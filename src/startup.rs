//! Builds the application from typed settings (the one place startup happens).

use crate::auth::Authenticator;
use crate::error::AppError;
use crate::graphql::{self, ConfideSchema, Limits};
use crate::policy::{self, Policy};
use crate::settings::Settings;
use crate::{db, demo};
use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer, Responder};
use async_graphql::http::GraphiQLSource;
use async_graphql_actix_web::GraphQLResponse;
use sea_orm::DatabaseConnection;
use std::net::TcpListener;
use std::sync::Arc;

/// Shared, immutable state of a running server.
pub struct AppState {
    pub db: DatabaseConnection,
    pub policy: Arc<Policy>,
    pub auth: Authenticator,
    pub schema: ConfideSchema,
    pub limits: Limits,
    pub report_cost: bool,
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Connects to and migrates the database, loads the policy and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, AppError> {
        let db = db::connect(&settings.database.resolved_url()).await?;
        db::migrate(&db).await?;
        Self::build_with_db(settings, db).await
    }

    pub async fn build_with_db(
        settings: Settings,
        db: DatabaseConnection,
    ) -> Result<Self, AppError> {
        let policy = policy::load(settings.policy_path.as_deref()).await?;
        let auth = Authenticator::from_settings(&settings.jwt)?;
        let state = web::Data::new(AppState {
            db,
            policy,
            auth,
            schema: graphql::schema(),
            limits: Limits {
                max_page_size: settings.max_page_size,
                risk_exception_max_hours: settings.risk_exception_max_hours,
            },
            report_cost: settings.report_cost,
        });
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| AppError::internal("bind", format!("{}: {e}", settings.bind)))?;
        let port = listener
            .local_addr()
            .map_err(|e| AppError::internal("bind", e))?
            .port();
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(256 * 1024))
                .route("/graphql", web::post().to(graphql_handler))
                .route("/graphql", web::get().to(graphiql))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
        })
        .shutdown_timeout(10)
        .listen(listener)
        .map_err(|e| AppError::internal("listen", e))?
        .run();
        Ok(Application {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Seeds demo data if the database has none, and returns a token per role.
    pub async fn seed_demo(&self) -> Result<Vec<(String, String)>, AppError> {
        let demo = demo::seed(&self.state.db).await?;
        demo::seed_sharing(&self.state.db).await?;
        demo.tokens(&self.state.auth)
    }
}

fn unauthenticated() -> HttpResponse {
    HttpResponse::build(StatusCode::UNAUTHORIZED)
        .insert_header(("WWW-Authenticate", "Bearer"))
        .json(serde_json::json!({
            "data": null,
            "errors": [{
                "message": "authentication required",
                "extensions": { "code": "UNAUTHENTICATED" }
            }]
        }))
}

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(serde_json::json!({
        "data": null,
        "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }]
    }))
}

/// `POST /graphql`: authenticate first (nothing is parsed or executed for an
/// unauthenticated caller), then parse the JSON body and execute.
async fn graphql_handler(
    state: web::Data<AppState>,
    http: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = http
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let caller = match state.auth.authenticate(&state.db, header).await {
        Ok(caller) => caller,
        Err(AppError::Unauthenticated) => return unauthenticated(),
        Err(e) => {
            tracing::error!(error = ?e, "authentication failed");
            return HttpResponse::InternalServerError().json(serde_json::json!({
                "data": null,
                "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL" } }]
            }));
        }
    };
    let request = match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => request,
        Err(e) => {
            tracing::info!(error = %e, "unparseable GraphQL request body");
            return bad_request("the request body must be a JSON GraphQL request (one operation)");
        }
    };
    let response = graphql::execute(
        &state.schema,
        state.db.clone(),
        state.policy.clone(),
        caller,
        state.limits,
        state.report_cost,
        request,
    )
    .await;
    let body: GraphQLResponse = response.into();
    let mut http_response = body.respond_to(&http).map_into_boxed_body();
    http_response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    http_response
}

async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(GraphiQLSource::build().endpoint("/graphql").finish())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "unavailable" }))
        }
    }
}
