//! Typed settings, from command-line flags and `CONFIDE_*` environment variables.

use clap::Args;
use std::path::PathBuf;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://confide.db?mode=rwc";

#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "CONFIDE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    #[command(flatten)]
    pub database: DatabaseSettings,

    #[command(flatten)]
    pub jwt: JwtSettings,

    /// Casbin policy file (CSV); the embedded default policy when unset.
    #[arg(long, env = "CONFIDE_POLICY_PATH")]
    pub policy_path: Option<PathBuf>,

    /// Seconds between checks for a newer published policy version (also
    /// checked at once on SIGHUP): a version published reaches every instance
    /// within this time, plus the time to load it.
    #[arg(long, env = "CONFIDE_POLICY_POLL_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub policy_poll_secs: u64,

    /// Do not apply migrations at start: the database must already be at this
    /// release's schema (applied once by `confide migrate`), else the server
    /// refuses to start.
    #[arg(long, env = "CONFIDE_NO_MIGRATE", default_value_t = false)]
    pub no_migrate: bool,

    /// Largest `first` a list accepts.
    #[arg(long, env = "CONFIDE_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: u32,

    /// Largest estimated cost (fields resolved, lists multiplied by their page
    /// size or bound) of one request; over it: QUERY_TOO_COSTLY before execution.
    #[arg(long, env = "CONFIDE_MAX_COST", default_value_t = 50_000)]
    pub max_cost: u64,

    /// The in-flight cost budget: the estimated costs (as `--max-cost` measures
    /// them) of the requests executing at once add up to no more than this; a
    /// request without room waits in line (see `--admission-wait-ms`). Bounds
    /// the server's memory under many costly requests at once.
    #[arg(long, env = "CONFIDE_MAX_COST_IN_FLIGHT", default_value_t = 100_000)]
    pub max_cost_in_flight: u64,

    /// Longest a request waits in line for room in the in-flight cost budget,
    /// in milliseconds; then SERVER_BUSY (HTTP 503 with Retry-After).
    #[arg(long, env = "CONFIDE_ADMISSION_WAIT_MS", default_value_t = 10_000)]
    pub admission_wait_ms: u64,

    /// Most aliased fields in one request.
    #[arg(long, env = "CONFIDE_MAX_ALIASES", default_value_t = 100)]
    pub max_aliases: usize,

    /// Most substring searches over notes (`noteContains`) in one request.
    #[arg(long, env = "CONFIDE_MAX_NOTE_SEARCHES", default_value_t = 2)]
    pub max_note_searches: usize,

    /// Longest a risk exception may last, in hours (the default expiry is 72).
    #[arg(long, env = "CONFIDE_RISK_EXCEPTION_MAX_HOURS", default_value_t = 168)]
    pub risk_exception_max_hours: i64,

    /// Serve GraphiQL on `GET /graphql` (pinned assets with integrity hashes).
    /// Off unless set; `serve --demo` turns it on.
    #[arg(long, env = "CONFIDE_GRAPHIQL", default_value_t = false)]
    pub graphiql: bool,

    /// Allow introspection and "did you mean" suggestions for outside audiences
    /// (departments, university services, partners). Off by default: they get
    /// the operations agreed with them, not a map of the schema.
    #[arg(long, env = "CONFIDE_OUTSIDE_INTROSPECTION", default_value_t = false)]
    pub outside_introspection: bool,

    /// Seconds to receive a request's body once its headers are in (then 408).
    #[arg(long, env = "CONFIDE_BODY_TIMEOUT_SECS", default_value_t = 10)]
    pub body_timeout_secs: u64,

    /// HTTP worker threads, each serving its own connections on a runtime of its
    /// own (default: one per core the process may use).
    #[arg(long, env = "CONFIDE_HTTP_WORKERS", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub http_workers: Option<u16>,

    /// Open connections each worker accepts at most (more wait in the backlog).
    #[arg(
        long,
        env = "CONFIDE_MAX_CONNECTIONS_PER_WORKER",
        default_value_t = 256
    )]
    pub max_connections_per_worker: usize,

    /// Seconds the partner feed trails the clock, so that every write stamped
    /// before its watermark (`syncedUntil`) has committed (longer than any write
    /// transaction).
    #[arg(long, env = "CONFIDE_FEED_SETTLE_SECS", default_value_t = 60)]
    pub feed_settle_secs: i64,

    /// Longest a break-glass (emergency) read may last, in minutes (default 60).
    #[arg(long, env = "CONFIDE_BREAK_GLASS_MAX_MINUTES", default_value_t = 60)]
    pub break_glass_max_minutes: i64,

    /// Working days within which a registered professional other than the
    /// discloser must review an emergency disclosure.
    #[arg(
        long,
        env = "CONFIDE_EMERGENCY_REVIEW_WORKING_DAYS",
        default_value_t = 2
    )]
    pub emergency_review_working_days: u32,

    /// The Student Support services cases can be opened in (comma-separated).
    #[arg(
        long,
        env = "CONFIDE_SERVICES",
        value_delimiter = ',',
        default_value = "counselling,mental_health,disability,wellbeing"
    )]
    pub services: Vec<String>,

    #[command(flatten)]
    pub statistics: StatisticsSettings,

    /// Add `extensions.cost` (casbin evaluations, SQL statements) to every response.
    /// For benchmarks and tests; off in production.
    #[arg(long, env = "CONFIDE_REPORT_COST", default_value_t = false)]
    pub report_cost: bool,

    #[command(flatten)]
    pub research: ResearchSettings,

    #[command(flatten)]
    pub edge: EdgeSettings,
}

/// Browsers (CORS, security headers), rate limits, metrics and tracing
/// (see `docs/operations.md`).
#[derive(Args, Clone, Debug, Default)]
pub struct EdgeSettings {
    /// Origins a browser may call the API from (comma-separated, exact, e.g.
    /// `https://dashboard.example.ac.uk`). None: no cross-origin browser access.
    #[arg(
        long = "cors-origin",
        env = "CONFIDE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// Let browsers send credentials (cookies, TLS client certificates) on
    /// cross-origin requests. Off: bearer tokens in `Authorization` need no credentials mode.
    #[arg(long, env = "CONFIDE_CORS_ALLOW_CREDENTIALS", default_value_t = false)]
    pub cors_allow_credentials: bool,

    /// Send `Strict-Transport-Security` with this max-age (seconds) on every
    /// response. Unset: no HSTS header (set it when Confide is only reached over HTTPS).
    #[arg(long, env = "CONFIDE_HSTS_MAX_AGE_SECS")]
    pub hsts_max_age_secs: Option<u64>,

    /// Requests per second one authenticated caller may make (0: no limit).
    #[arg(
        long,
        env = "CONFIDE_RATE_LIMIT_CALLER_PER_SECOND",
        default_value_t = 0
    )]
    pub rate_limit_caller_per_second: u32,

    /// Burst allowed above the caller rate (requests).
    #[arg(long, env = "CONFIDE_RATE_LIMIT_CALLER_BURST", default_value_t = 50)]
    pub rate_limit_caller_burst: u32,

    /// Requests per second all callers of one organisation (a department, a
    /// university service, a partner organisation) may make together (0: no limit).
    #[arg(
        long,
        env = "CONFIDE_RATE_LIMIT_ORGANISATION_PER_SECOND",
        default_value_t = 0
    )]
    pub rate_limit_organisation_per_second: u32,

    /// Burst allowed above the organisation rate (requests).
    #[arg(
        long,
        env = "CONFIDE_RATE_LIMIT_ORGANISATION_BURST",
        default_value_t = 200
    )]
    pub rate_limit_organisation_burst: u32,

    /// Requests per second that fail authentication one peer IP address may
    /// make (0: no limit). The TCP peer: behind a load balancer, that is the balancer.
    #[arg(
        long,
        env = "CONFIDE_RATE_LIMIT_UNAUTHENTICATED_PER_SECOND",
        default_value_t = 0
    )]
    pub rate_limit_unauthenticated_per_second: u32,

    /// Burst allowed above the unauthenticated rate (requests).
    #[arg(
        long,
        env = "CONFIDE_RATE_LIMIT_UNAUTHENTICATED_BURST",
        default_value_t = 20
    )]
    pub rate_limit_unauthenticated_burst: u32,

    /// Address of the admin listener serving Prometheus metrics at `/metrics`
    /// (e.g. `127.0.0.1:9090`). Unset: no admin listener. Keep it off the public network.
    #[arg(long = "admin-bind", env = "CONFIDE_ADMIN_BIND")]
    pub admin_bind: Option<String>,

    /// OTLP/HTTP (protobuf) collector base URL to export traces to, e.g.
    /// `http://127.0.0.1:4318` (spans are posted to `/v1/traces`). Unset: no export.
    #[arg(long = "otlp-endpoint", env = "CONFIDE_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// A span per root field of each query (resolver spans). Off: adding any
    /// async-graphql extension puts every field of a response through the
    /// extension chain, which cost the dashboard more than its 5 % budget.
    #[arg(long, env = "CONFIDE_TRACE_RESOLVERS", default_value_t = false)]
    pub trace_resolvers: bool,
}

/// The research extract: its smallest k, and the pseudonym key.
#[derive(Args, Clone, Debug)]
pub struct ResearchSettings {
    /// Smallest k of a research extract: every released combination of
    /// department, year of study, service and labels is shared by at least
    /// k students (a query may ask for more, never less).
    #[arg(long, env = "CONFIDE_RESEARCH_K", default_value_t = 5)]
    pub research_k: u32,

    /// The research pseudonym key (at least 32 bytes), held by the DPO: with
    /// it, and an extract's id, a pseudonym can be traced back to a student.
    /// Unset: a random key per process (pseudonyms nobody can reverse).
    #[arg(long, env = "CONFIDE_PSEUDONYM_KEY", hide_env_values = true)]
    pub pseudonym_key: Option<String>,
}

impl Default for ResearchSettings {
    fn default() -> Self {
        ResearchSettings {
            research_k: 5,
            pseudonym_key: None,
        }
    }
}

/// Disclosure control of statistics (see `docs/statistics.md`).
#[derive(Args, Clone, Debug)]
pub struct StatisticsSettings {
    /// Figures about fewer distinct students than this are never released (at least 2).
    #[arg(
        long = "statistics-threshold",
        env = "CONFIDE_STATISTICS_THRESHOLD",
        default_value_t = 5
    )]
    pub threshold: i64,

    /// `suppress` (small figures and their complements are withheld) or `round`
    /// (every figure is rounded to the base).
    #[arg(
        long = "statistics-method",
        env = "CONFIDE_STATISTICS_METHOD",
        default_value = "suppress"
    )]
    pub method: String,

    /// The base figures are rounded to with `--statistics-method round`.
    #[arg(
        long = "statistics-rounding-base",
        env = "CONFIDE_STATISTICS_ROUNDING_BASE",
        default_value_t = 5
    )]
    pub rounding_base: i64,

    /// How many days of a caller's earlier releases a new query is protected against.
    #[arg(
        long = "statistics-ledger-days",
        env = "CONFIDE_STATISTICS_LEDGER_DAYS",
        default_value_t = 365
    )]
    pub ledger_days: i64,

    /// Most figures (cells, margins and the total) one statistics table may have.
    #[arg(
        long = "statistics-max-cells",
        env = "CONFIDE_STATISTICS_MAX_CELLS",
        default_value_t = 2000
    )]
    pub max_cells: usize,
}

impl Default for StatisticsSettings {
    fn default() -> Self {
        StatisticsSettings {
            threshold: 5,
            method: "suppress".to_owned(),
            rounding_base: 5,
            ledger_days: 365,
            max_cells: 2000,
        }
    }
}

impl StatisticsSettings {
    /// The settings as limits; nonsense (a threshold below 2, an unknown
    /// method, a base below 2) is refused at start.
    pub fn limits(&self) -> Result<crate::statistics::StatisticsLimits, String> {
        use crate::statistics::DisclosureMethod;
        let method = DisclosureMethod::parse(&self.method).ok_or_else(|| {
            format!(
                "statistics method {:?} is not suppress or round",
                self.method
            )
        })?;
        if self.threshold < 2 {
            return Err("the statistics threshold must be at least 2".to_owned());
        }
        if self.rounding_base < 2 {
            return Err("the statistics rounding base must be at least 2".to_owned());
        }
        if self.ledger_days < 1 || self.max_cells < 1 {
            return Err("the statistics ledger days and max cells must be positive".to_owned());
        }
        Ok(crate::statistics::StatisticsLimits {
            threshold: self.threshold,
            method,
            rounding_base: self.rounding_base,
            ledger_days: self.ledger_days,
            max_cells: self.max_cells,
        })
    }
}

#[derive(Args, Clone, Debug, Default)]
pub struct DatabaseSettings {
    /// Database URL (`sqlite://...` or `postgres://...`). Falls back to
    /// `DATABASE_URL`, then to `sqlite://confide.db?mode=rwc`.
    #[arg(long = "database-url", env = "CONFIDE_DATABASE_URL")]
    pub url: Option<String>,

    /// PostgreSQL: longest a statement may run, in seconds (`statement_timeout`; 30).
    #[arg(long, env = "CONFIDE_STATEMENT_TIMEOUT_SECS")]
    pub statement_timeout_secs: Option<u64>,

    /// Connections in the database pool (default: 16 on PostgreSQL, 8 on SQLite).
    #[arg(long, env = "CONFIDE_DB_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub pool_size: Option<u32>,

    /// SQLite: how long a writer waits for another writer's lock, in ms (5000).
    #[arg(long, env = "CONFIDE_SQLITE_BUSY_TIMEOUT_MS")]
    pub busy_timeout_ms: Option<u64>,

    /// Least time between two commits of read-only requests' audit batches,
    /// in ms. Default: 10 on SQLite (each commit empties the other
    /// connections' page caches), 0 on PostgreSQL. A request arriving when the
    /// writer has been idle that long is written at once.
    #[arg(long, env = "CONFIDE_AUDIT_COMMIT_INTERVAL_MS")]
    pub audit_commit_interval_ms: Option<u64>,

    /// PostgreSQL transport when the URL names no `sslmode`: `auto` (no TLS
    /// to a server on this host, TLS required to any other), `require`,
    /// `prefer`, or `disable` (refused for a server on another host).
    #[arg(
        long = "database-tls",
        env = "CONFIDE_DATABASE_TLS",
        value_enum,
        default_value_t
    )]
    pub tls: crate::db::DatabaseTls,
}

impl DatabaseSettings {
    pub fn resolved_url(&self) -> String {
        self.url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
    }
}

#[derive(Args, Clone, Debug, Default)]
pub struct JwtSettings {
    /// HS256 shared secret (at least 32 bytes).
    #[arg(
        long = "jwt-secret",
        env = "CONFIDE_JWT_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<String>,

    /// RS256 public key (PEM) of the identity provider; takes precedence over the secret.
    #[arg(long = "jwt-public-key", env = "CONFIDE_JWT_PUBLIC_KEY_PATH")]
    pub public_key_path: Option<PathBuf>,

    /// Required `iss` claim, when set.
    #[arg(long = "jwt-issuer", env = "CONFIDE_JWT_ISSUER")]
    pub issuer: Option<String>,

    /// Required `aud` claim, when set (the token's `aud` may be a string or an
    /// array containing it).
    #[arg(long = "jwt-audience", env = "CONFIDE_JWT_AUDIENCE")]
    pub audience: Option<String>,

    /// Longest token lifetime accepted, in minutes (`exp` - `iat`); default 720.
    #[arg(
        long = "jwt-max-lifetime-minutes",
        env = "CONFIDE_JWT_MAX_LIFETIME_MINUTES"
    )]
    pub max_lifetime_minutes: Option<i64>,

    /// OpenID Connect issuer: its keys are found by discovery
    /// (`{issuer}/.well-known/openid-configuration` -> `jwks_uri`) and fetched
    /// as a JWKS (RS256 and ES256 keys). Also the required `iss` unless
    /// `--jwt-issuer` is set. Takes precedence over the public key and secret.
    /// `https://` (plain `http://` only to a loopback address).
    #[arg(long = "oidc-issuer", env = "CONFIDE_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// The JWKS URL, without discovery (takes precedence over discovery).
    #[arg(long = "jwks-url", env = "CONFIDE_JWKS_URL")]
    pub jwks_url: Option<String>,

    /// Seconds between scheduled refreshes of the JWKS (default 300).
    #[arg(long = "jwks-refresh-secs", env = "CONFIDE_JWKS_REFRESH_SECS")]
    pub jwks_refresh_secs: Option<u64>,

    /// Fewest seconds between two fetches of the JWKS caused by a token whose
    /// `kid` is unknown (default 30): a flood of bogus `kid`s costs the
    /// identity provider at most one request per interval.
    #[arg(long = "jwks-min-refetch-secs", env = "CONFIDE_JWKS_MIN_REFETCH_SECS")]
    pub jwks_min_refetch_secs: Option<u64>,

    /// The claim carrying the caller's role (default `role`); a dotted path
    /// reaches into objects (`realm_access.roles`). Its value is a string or
    /// an array of strings.
    #[arg(long = "jwt-role-claim", env = "CONFIDE_JWT_ROLE_CLAIM")]
    pub role_claim: Option<String>,

    /// The provider's role values mapped to Confide's roles,
    /// `idp_value=confide_role` comma-separated (`staff-counsellor=practitioner,dpo=dpo`).
    /// Set: only mapped values count, and they must name exactly one role.
    /// Unset: the claim's value is a Confide role name.
    #[arg(
        long = "jwt-role-map",
        env = "CONFIDE_JWT_ROLE_MAP",
        value_delimiter = ','
    )]
    pub role_map: Vec<String>,

    /// The claim carrying Confide's id of the staff member, student or partner
    /// organisation (default `sub`). A partner is also found by its
    /// `idp_subject` (the provider's subject for the organisation).
    #[arg(long = "jwt-subject-claim", env = "CONFIDE_JWT_SUBJECT_CLAIM")]
    pub subject_claim: Option<String>,
}

impl Settings {
    /// Settings for an embedded server on the given database, for tests and tools.
    pub fn new(database_url: &str, jwt_secret: &str) -> Self {
        Settings {
            bind: "127.0.0.1:0".to_owned(),
            database: DatabaseSettings {
                url: Some(database_url.to_owned()),
                statement_timeout_secs: None,
                pool_size: None,
                busy_timeout_ms: None,
                audit_commit_interval_ms: None,
                tls: crate::db::DatabaseTls::Auto,
            },
            jwt: JwtSettings {
                secret: Some(jwt_secret.to_owned()),
                ..JwtSettings::default()
            },
            policy_path: None,
            policy_poll_secs: 5,
            no_migrate: false,
            max_page_size: 100,
            graphiql: false,
            outside_introspection: false,
            body_timeout_secs: 10,
            feed_settle_secs: 60,
            emergency_review_working_days: 2,
            break_glass_max_minutes: 60,
            max_connections_per_worker: 256,
            http_workers: None,
            services: ["counselling", "mental_health", "disability", "wellbeing"]
                .map(str::to_owned)
                .to_vec(),
            max_cost: 50_000,
            max_cost_in_flight: 100_000,
            admission_wait_ms: 10_000,
            max_aliases: 100,
            max_note_searches: 2,
            risk_exception_max_hours: 168,
            statistics: StatisticsSettings::default(),
            report_cost: false,
            research: ResearchSettings::default(),
            edge: EdgeSettings::default(),
        }
    }
}
