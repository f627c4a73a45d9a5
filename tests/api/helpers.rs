use confide::auth::{Authenticator, Claims};
use confide::demo::Demo;
use confide::domain::Role;
use confide::settings::{JwtSettings, Settings};
use confide::startup::Application;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{json, Value};

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// A running server with the demo data loaded.
pub struct TestApp {
    pub address: String,
    /// The admin listener (`/metrics`), when the test configured one.
    pub admin_address: Option<String>,
    /// The database URL the server runs on.
    pub db_url: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub demo: Demo,
    auth: Authenticator,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh database URL: a new SQLite file, or a new PostgreSQL database on the
/// server named by CONFIDE_TEST_DATABASE_URL.
pub async fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    match std::env::var("CONFIDE_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("confide_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to postgres");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.expect("close admin connection");
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .expect("url has a path");
            (format!("{base}/{name}"), None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("confide.db").display()
            );
            (url, Some(dir))
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (url, dir) = fresh_database().await;
    start(url, configure, None, dir).await
}

impl TestApp {
    /// A second server (another instance behind the same load balancer) over
    /// this app's database: its own process state, the same data. It migrates
    /// at start like any instance (nothing is pending) and seeds nothing.
    pub async fn another_instance(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        start(
            self.db_url.clone(),
            configure,
            Some(self.demo.clone()),
            None,
        )
        .await
    }
}

/// Builds and starts a server over `db_url` with the tests' settings (cost in
/// responses, no feed settling time; one test sets it), then `configure`'s;
/// seeds the demo data unless it is given (a database already seeded).
async fn start(
    db_url: String,
    configure: impl FnOnce(&mut Settings),
    demo: Option<Demo>,
    dir: Option<tempfile::TempDir>,
) -> TestApp {
    let mut settings = Settings::new(&db_url, SECRET);
    settings.report_cost = true;
    settings.feed_settle_secs = 0;
    configure(&mut settings);
    let app = Application::build(settings).await.expect("build app");
    let port = app.port();
    let admin_address = app
        .admin_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let db = app.state().db.clone();
    let demo = match demo {
        Some(demo) => demo,
        None => confide::demo::seed(&db).await.expect("seed demo data"),
    };
    tokio::spawn(app.run_until_stopped());
    let auth = Authenticator::from_settings(&JwtSettings {
        secret: Some(SECRET.to_owned()),
        ..JwtSettings::default()
    })
    .expect("authenticator");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        admin_address,
        db_url,
        client: reqwest::Client::new(),
        db,
        demo,
        auth,
        _dir: dir,
    }
}

/// A GraphQL response, with helpers to read it.
#[derive(Debug)]
pub struct Gql {
    pub status: u16,
    pub body: Value,
}

impl Gql {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn errors(&self) -> Vec<Value> {
        self.body["errors"].as_array().cloned().unwrap_or_default()
    }

    pub fn assert_no_errors(&self) -> &Self {
        assert!(
            self.errors().is_empty(),
            "unexpected errors: {:#}",
            self.body
        );
        self
    }

    /// Error codes, in order.
    pub fn codes(&self) -> Vec<String> {
        self.errors()
            .iter()
            .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// The reason of the redaction at this path, if any.
    pub fn redaction(&self, path: Value) -> Option<String> {
        self.body["extensions"]["redactions"]
            .as_array()?
            .iter()
            .find(|r| r["path"] == path)
            .map(|r| r["reason"].as_str().unwrap_or("").to_owned())
    }

    /// The code of the error at this path, if any.
    pub fn error_at(&self, path: Value) -> Option<String> {
        self.errors()
            .iter()
            .find(|e| e["path"] == path)
            .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
    }

    pub fn cost(&self) -> (u64, u64) {
        let c = &self.body["extensions"]["cost"];
        (
            c["casbinEvaluations"].as_u64().expect("cost reported"),
            c["sqlStatements"].as_u64().expect("cost reported"),
        )
    }
}

impl TestApp {
    pub fn token(&self, id: uuid::Uuid, role: Role) -> String {
        self.auth
            .issue(id, role, chrono::Duration::minutes(10))
            .expect("token")
    }

    /// Signs arbitrary claims with the test secret.
    pub fn token_with_claims(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("encode")
    }

    /// Posts a request. Every document sent is first registered (as an
    /// operator would with `confide operations add`), so that departments,
    /// university services and partners may run it; a document registration
    /// refuses (invalid, introspection) stays unregistered.
    /// [`TestApp::post_unregistered`] sends without registering.
    /// Posts a request. A document sent by an outside audience (department,
    /// university service, partner) is registered first, as an operator would
    /// register an integration's operations; staff documents are not.
    pub async fn post_raw(&self, authorization: Option<&str>, body: Value) -> Gql {
        if let (Some(query), true) = (body["query"].as_str(), sent_by_outside(authorization)) {
            let _ = confide::service::operations::register(&self.db, query, "test").await;
        }
        self.post_unregistered(authorization, body).await
    }

    /// Posts a request as it is, registering nothing.
    pub async fn post_unregistered(&self, authorization: Option<&str>, body: Value) -> Gql {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&body);
        if let Some(auth) = authorization {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body = response.json().await.expect("json body");
        Gql { status, body }
    }

    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Gql {
        self.post_raw(
            Some(&format!("Bearer {token}")),
            json!({ "query": query, "variables": variables }),
        )
        .await
    }

    /// A query as the demo caller of a role.
    pub async fn as_caller(
        &self,
        id: uuid::Uuid,
        role: Role,
        query: &str,
        variables: Value,
    ) -> Gql {
        let token = self.token(id, role);
        self.gql(&token, query, variables).await
    }

    /// Runs `requests` while a connection of the test's own holds the database's
    /// write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the audit table, which
    /// every write's transaction must append to before it commits) for long enough
    /// that each request has begun and read what it will change before any can
    /// commit. Then it lets go, and the server's own concurrency control decides.
    pub async fn while_writes_are_held<F: std::future::Future>(&self, requests: F) -> F::Output {
        let holder = sea_orm::Database::connect(
            sea_orm::ConnectOptions::new(self.db_url.clone())
                .max_connections(1)
                .to_owned(),
        )
        .await
        .unwrap();
        if self.db_url.starts_with("sqlite") {
            holder.execute_unprepared("BEGIN IMMEDIATE").await.unwrap();
        } else {
            holder.execute_unprepared("BEGIN").await.unwrap();
            holder
                .execute_unprepared("LOCK TABLE audit_event IN EXCLUSIVE MODE")
                .await
                .unwrap();
        }
        let release = async {
            tokio::time::sleep(std::time::Duration::from_millis(800)).await;
            holder.execute_unprepared("ROLLBACK").await.unwrap();
        };
        let (answers, ()) = tokio::join!(requests, release);
        holder.close().await.unwrap();
        answers
    }

    pub async fn count(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count query")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("count")
    }
}

pub fn id(uuid: uuid::Uuid) -> String {
    uuid.to_string()
}

/// Whether a bearer token's `role` claim names an outside audience (read
/// from the payload without verifying: the server verifies).
fn sent_by_outside(authorization: Option<&str>) -> bool {
    use base64::Engine;
    let Some(token) = authorization.and_then(|a| a.strip_prefix("Bearer ")) else {
        return false;
    };
    let Some(payload) = token.split('.').nth(1) else {
        return false;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return false;
    };
    let Ok(claims) = serde_json::from_slice::<Value>(&bytes) else {
        return false;
    };
    claims["role"]
        .as_str()
        .and_then(Role::parse)
        .is_some_and(Role::is_outside)
}
