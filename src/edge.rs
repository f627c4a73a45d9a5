//! The HTTP edge: CORS for configured browser origins (actix-cors), security
//! headers on every response, rate limits per caller, organisation and
//! unauthenticated peer (governor), and the root span of each request
//! (tracing-actix-web) joined to an incoming W3C `traceparent`.

use crate::auth::Caller;
use crate::domain::Role;
use crate::error::AppError;
use crate::settings::EdgeSettings;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::HttpMessage;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::Arc;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// The Content-Security-Policy of API responses (JSON: nothing may load, frame or submit).
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The GraphiQL page: its pinned scripts and stylesheet from unpkg (checked by
/// their integrity hashes), its one inline script by its hash, requests to
/// this origin only.
pub fn graphiql_csp(page: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let inline = page
        .rsplit_once("<script>")
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(script, _)| script)
        .unwrap_or("");
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(inline));
    format!(
        "default-src 'none'; script-src https://unpkg.com 'sha256-{hash}'; \
         style-src https://unpkg.com 'unsafe-inline'; font-src https://unpkg.com data:; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'none'"
    )
}

/// CORS for the configured origins only: the methods and headers a GraphQL
/// client uses, credentials only when configured. Without origins, every
/// cross-origin preflight is refused (400) and no response carries CORS headers.
pub fn cors(settings: &EdgeSettings) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("traceparent"),
            header::HeaderName::from_static("tracestate"),
        ])
        .expose_headers([
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("x-trace-id"),
            header::RETRY_AFTER,
        ])
        .max_age(600);
    for origin in &settings.cors_origins {
        let origin = origin.trim();
        if !origin.is_empty() {
            cors = cors.allowed_origin(origin);
        }
    }
    if settings.cors_allow_credentials {
        cors = cors.supports_credentials();
    }
    cors
}

/// Headers every response carries unless its handler set its own (GraphiQL
/// sets its Content-Security-Policy).
pub fn security_headers(settings: &EdgeSettings) -> actix_web::middleware::DefaultHeaders {
    let mut headers = actix_web::middleware::DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, API_CSP))
        .add((header::CACHE_CONTROL, "no-store"))
        .add(("Cross-Origin-Resource-Policy", "same-origin"));
    if let Some(max_age) = settings.hsts_max_age_secs {
        headers = headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            format!("max-age={max_age}; includeSubDomains"),
        ));
    }
    headers
}

/// A limiter per key, or none (the limit is off).
fn limiter(per_second: u32, burst: u32) -> Option<Arc<DefaultKeyedRateLimiter<String>>> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(Arc::new(governor::RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    )))
}

/// The rate limits of a server (each off unless configured).
#[derive(Clone, Default)]
pub struct RateLimits {
    caller: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    organisation: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    unauthenticated: Option<Arc<DefaultKeyedRateLimiter<String>>>,
}

impl RateLimits {
    pub fn from_settings(s: &EdgeSettings) -> Self {
        RateLimits {
            caller: limiter(s.rate_limit_caller_per_second, s.rate_limit_caller_burst),
            organisation: limiter(
                s.rate_limit_organisation_per_second,
                s.rate_limit_organisation_burst,
            ),
            unauthenticated: limiter(
                s.rate_limit_unauthenticated_per_second,
                s.rate_limit_unauthenticated_burst,
            ),
        }
    }

    pub fn any(&self) -> bool {
        self.caller.is_some() || self.organisation.is_some() || self.unauthenticated.is_some()
    }

    /// Forgets keys whose limits are back to full (bounded memory).
    pub fn forget_idle(&self) {
        for limiter in [&self.caller, &self.organisation, &self.unauthenticated]
            .into_iter()
            .flatten()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// An authenticated caller's request: within its own limit and its
    /// organisation's, or RATE_LIMITED with the seconds to wait.
    pub fn check_caller(&self, caller: &Caller) -> Result<(), AppError> {
        if let Some(limiter) = &self.caller {
            let key = format!("{}:{}", caller.role.as_str(), caller.id);
            check(limiter, &key, "caller")?;
        }
        if let (Some(limiter), Some(org)) = (&self.organisation, organisation(caller)) {
            check(limiter, &org, "organisation")?;
        }
        Ok(())
    }

    /// A request that failed authentication, keyed by its TCP peer.
    pub fn check_unauthenticated(
        &self,
        peer: Option<std::net::SocketAddr>,
    ) -> Result<(), AppError> {
        match &self.unauthenticated {
            Some(limiter) => {
                let key = peer.map(|p| p.ip().to_string()).unwrap_or_default();
                check(limiter, &key, "unauthenticated")
            }
            None => Ok(()),
        }
    }
}

/// The organisation a caller acts for: its department, university service
/// or partner organisation (others: none).
fn organisation(caller: &Caller) -> Option<String> {
    match caller.role {
        Role::Department => caller
            .department
            .as_ref()
            .map(|d| format!("department:{d}")),
        Role::UniversityService => caller.unit.as_ref().map(|u| format!("unit:{u}")),
        Role::Partner => Some(format!("partner:{}", caller.id)),
        _ => None,
    }
}

fn check(
    limiter: &DefaultKeyedRateLimiter<String>,
    key: &String,
    scope: &'static str,
) -> Result<(), AppError> {
    match limiter.check_key(key) {
        Ok(()) => Ok(()),
        Err(not_until) => {
            crate::telemetry::rate_limited(scope);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::info!(scope, retry_after_secs = secs, "rate limited");
            Err(AppError::RateLimited {
                retry_after_secs: secs.max(1),
            })
        }
    }
}

/// The trace id a request arrived with (from a valid W3C `traceparent`).
#[derive(Clone, Copy, Debug)]
pub struct IncomingTrace(pub Option<opentelemetry::trace::TraceId>);

/// The root span of every request: the HTTP fields, the request and trace
/// ids (recorded by the handler), and as parent the caller's `traceparent`
/// when it sent a valid one (exported with it when OTLP is configured).
pub struct ConfideRootSpan;

impl RootSpanBuilder for ConfideRootSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let route = request.match_pattern();
        let span = tracing::info_span!(
            "HTTP request",
            otel.name = %format_args!("{} {}", request.method(), route.as_deref().unwrap_or("default")),
            otel.kind = "server",
            http.method = %request.method(),
            http.route = route.as_deref().unwrap_or("default"),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        let incoming = crate::telemetry::incoming_context(request.headers());
        let remote = incoming.span().span_context().clone();
        if remote.is_valid() {
            // Err only when no OpenTelemetry layer is installed (nothing to join).
            let _ = span.set_parent(incoming);
            request
                .extensions_mut()
                .insert(IncomingTrace(Some(remote.trace_id())));
        }
        span
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// The id of a request: the trace id it arrived with, else its exported span's
/// trace id (OTLP on), else a fresh time-ordered id. The same 128 bits name the
/// request in its response (`x-request-id`, `x-trace-id`, `extensions`), its
/// log lines and its audit records.
pub fn request_id(http: &actix_web::HttpRequest, root: &tracing::Span) -> uuid::Uuid {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if let Some(IncomingTrace(Some(trace))) = http.extensions().get::<IncomingTrace>().copied() {
        return uuid::Uuid::from_bytes(trace.to_bytes());
    }
    let context = root.context();
    let own = context.span().span_context().trace_id();
    if own != opentelemetry::trace::TraceId::INVALID {
        return uuid::Uuid::from_bytes(own.to_bytes());
    }
    uuid::Uuid::now_v7()
}
