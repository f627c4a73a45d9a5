//! The one error type of Confide, and its mapping to GraphQL `extensions.code`.

use async_graphql::ErrorExtensions;

/// Every failure a caller can see. Internal details never reach the client:
/// [`AppError::Internal`] is logged and answered with a generic message.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid value for {field}: {message}")]
    BadUserInput { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    /// A request whose cost, computed before execution, is over a limit.
    #[error("the request is too costly: {what} {cost} over the limit of {limit}")]
    TooCostly {
        what: &'static str,
        cost: u64,
        limit: u64,
    },
    /// A department, university service or partner sent a document that is
    /// not a registered operation (or a hash no operation is registered
    /// under): FORBIDDEN, `reason: OPERATION_NOT_REGISTERED`, before execution.
    #[error("only registered operations may be run by this caller")]
    OperationNotRegistered,
    /// A request that names an operation by hash alone (Apollo's
    /// `extensions.persistedQuery.sha256Hash`, no query text) when nothing is
    /// registered under it: `PERSISTED_QUERY_NOT_FOUND` (Apollo's code and
    /// message, so an Apollo client retries with the text; from an outside
    /// audience that text is then refused unless registered).
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    /// A request body that did not arrive in time (HTTP 408).
    #[error("the request body did not arrive in time")]
    TooSlow,
    /// A request body over the configured limit (HTTP 413).
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// Over a rate limit (HTTP 429, with `Retry-After`).
    #[error("too many requests: retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The requests executing now already hold the server's in-flight cost
    /// budget, and this one could not start within the admission wait (HTTP
    /// 503, with `Retry-After`): nothing of it ran.
    #[error("the server is busy: retry after {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// Anything the caller cannot fix. The context and the cause chain go to the
    /// log; the client sees "internal error".
    #[error("internal error")]
    Internal {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// A cause known only by its message (a library error converted to text).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Message(String);

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "UNAUTHENTICATED",
            AppError::Forbidden(_) | AppError::OperationNotRegistered => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadUserInput { .. } => "BAD_USER_INPUT",
            AppError::Conflict(_) => "CONFLICT",
            AppError::TooLarge { .. } | AppError::TooSlow => "BAD_USER_INPUT",
            AppError::TooCostly { .. } => "QUERY_TOO_COSTLY",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::Busy { .. } => "SERVER_BUSY",
            AppError::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            AppError::Internal { .. } => "INTERNAL",
        }
    }

    /// The HTTP status of an error that ends a request before GraphQL runs.
    pub fn http_status(&self) -> u16 {
        match self {
            AppError::Unauthenticated => 401,
            AppError::Forbidden(_) | AppError::OperationNotRegistered => 403,
            AppError::NotFound(_) => 404,
            AppError::BadUserInput { .. } => 400,
            AppError::Conflict(_) => 409,
            AppError::TooLarge { .. } => 413,
            AppError::TooSlow => 408,
            AppError::TooCostly { .. } => 400,
            AppError::RateLimited { .. } => 429,
            AppError::Busy { .. } => 503,
            // As Apollo Server: the request is fine, the client should resend
            // it with the text.
            AppError::PersistedQueryNotFound => 200,
            AppError::Internal { .. } => 500,
        }
    }

    /// Writes an internal error's context and cause chain to the log.
    pub fn log(&self) {
        if let AppError::Internal { context, source } = self {
            let mut chain = source.to_string();
            let mut cause = source.source();
            while let Some(c) = cause {
                chain.push_str(": ");
                chain.push_str(&c.to_string());
                cause = c.source();
            }
            tracing::error!(context = %context, cause = %chain, "internal error");
        }
    }

    pub fn bad_input(field: &str, message: impl Into<String>) -> Self {
        AppError::BadUserInput {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn forbidden() -> Self {
        AppError::Forbidden("not permitted for this caller".to_owned())
    }

    /// An internal error known by its message.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        AppError::Internal {
            context: context.to_owned(),
            source: Box::new(Message(err.to_string())),
        }
    }

    /// An internal error that keeps its cause (and the cause's chain) for the log.
    pub fn internal_from(
        context: &str,
        err: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        AppError::Internal {
            context: context.to_owned(),
            source: Box::new(err),
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        // A unique key raced by two writers: the second learns the record
        // exists (as it would have on a read before writing).
        if let Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
            return AppError::Conflict("the record already exists".to_owned());
        }
        AppError::internal_from("database", err)
    }
}

impl AppError {
    /// The answer to a conditional update that changed no row: another writer
    /// changed the record first.
    pub fn changed_meanwhile(what: &str) -> Self {
        AppError::Conflict(format!("the {what} was changed by someone else; reload it"))
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(err: sea_orm::TransactionError<AppError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(e) => e.into(),
            sea_orm::TransactionError::Transaction(e) => e,
        }
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        self.log();
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", self.code());
            if let AppError::BadUserInput { field, .. } = self {
                e.set("field", field.as_str());
            }
            if let AppError::OperationNotRegistered = self {
                e.set("reason", "OPERATION_NOT_REGISTERED");
            }
            if let AppError::TooCostly { what, cost, limit } = self {
                e.set("what", *what);
                e.set("cost", *cost);
                e.set("limit", *limit);
            }
            if let AppError::RateLimited { retry_after_secs }
            | AppError::Busy { retry_after_secs } = self
            {
                e.set("retryAfterSeconds", *retry_after_secs);
            }
        })
    }
}

/// The one renderer of an error as a GraphQL error: message and
/// `extensions.code` (and `extensions.field` for bad input). Used for resolver
/// errors and for the HTTP edge's early exits alike.
pub fn server_error(err: &AppError) -> async_graphql::ServerError {
    err.extend()
        .into_server_error(async_graphql::Pos::default())
}

/// The body of a response that ends before GraphQL runs (401, 400, 413, 500):
/// the same shape and codes as any GraphQL error.
pub fn response_body(err: &AppError) -> serde_json::Value {
    let mut error = server_error(err);
    error.locations.clear();
    serde_json::json!({ "data": null, "errors": [error] })
}

/// Gives every error of a response its `extensions.code`. Resolver errors that
/// came from an [`AppError`] (through async-graphql's `From<Display>`, which keeps
/// the source) get that error's code; errors from parsing and validating the
/// request get `BAD_USER_INPUT`.
pub fn assign_code(err: &mut async_graphql::ServerError) {
    let has_code = err
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some());
    if has_code {
        return;
    }
    let (code, field) = match err.source::<AppError>() {
        Some(app) => {
            app.log();
            let field = match app {
                AppError::BadUserInput { field, .. } => Some(field.clone()),
                _ => None,
            };
            (app.code(), field)
        }
        None => ("BAD_USER_INPUT", None),
    };
    let ext = err.extensions.get_or_insert_with(Default::default);
    ext.set("code", code);
    if let Some(field) = field {
        ext.set("field", field);
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(err: AppError) -> String {
        let gql = err.extend();
        let ext = gql.extensions.expect("extensions set");
        match ext.get("code") {
            Some(async_graphql::Value::String(s)) => s.clone(),
            other => panic!("no code: {other:?}"),
        }
    }

    #[test]
    fn each_variant_maps_to_its_extensions_code() {
        assert_eq!(code_of(AppError::Unauthenticated), "UNAUTHENTICATED");
        assert_eq!(code_of(AppError::forbidden()), "FORBIDDEN");
        assert_eq!(code_of(AppError::OperationNotRegistered), "FORBIDDEN");
        let ext = AppError::OperationNotRegistered
            .extend()
            .extensions
            .unwrap();
        assert_eq!(
            ext.get("reason"),
            Some(&async_graphql::Value::String(
                "OPERATION_NOT_REGISTERED".into()
            ))
        );
        assert_eq!(AppError::OperationNotRegistered.http_status(), 403);
        assert_eq!(
            code_of(AppError::PersistedQueryNotFound),
            "PERSISTED_QUERY_NOT_FOUND"
        );
        assert_eq!(AppError::PersistedQueryNotFound.http_status(), 200);
        assert_eq!(
            AppError::PersistedQueryNotFound.to_string(),
            "PersistedQueryNotFound"
        );
        assert_eq!(code_of(AppError::NotFound("student")), "NOT_FOUND");
        assert_eq!(
            code_of(AppError::bad_input("email", "bad")),
            "BAD_USER_INPUT"
        );
        assert_eq!(code_of(AppError::Conflict("dup".into())), "CONFLICT");
        assert_eq!(code_of(AppError::internal("x", "y")), "INTERNAL");
        assert_eq!(code_of(AppError::TooLarge { limit: 1 }), "BAD_USER_INPUT");
    }

    #[test]
    fn a_rate_limited_request_maps_to_rate_limited_and_429() {
        let err = AppError::RateLimited {
            retry_after_secs: 3,
        };
        assert_eq!(err.http_status(), 429);
        let body = response_body(&err);
        assert_eq!(body["data"], serde_json::Value::Null);
        assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
        assert_eq!(body["errors"][0]["extensions"]["retryAfterSeconds"], 3);
        assert_eq!(
            code_of(AppError::RateLimited {
                retry_after_secs: 1
            }),
            "RATE_LIMITED"
        );
    }

    #[test]
    fn a_request_the_server_has_no_room_for_maps_to_server_busy_and_503() {
        let err = AppError::Busy {
            retry_after_secs: 1,
        };
        assert_eq!(err.http_status(), 503);
        assert_eq!(code_of(err), "SERVER_BUSY");
        let body = response_body(&AppError::Busy {
            retry_after_secs: 2,
        });
        assert_eq!(body["errors"][0]["extensions"]["code"], "SERVER_BUSY");
        assert_eq!(body["errors"][0]["extensions"]["retryAfterSeconds"], 2);
    }

    #[test]
    fn early_exits_share_the_graphql_error_shape() {
        let body = response_body(&AppError::Unauthenticated);
        assert_eq!(body["data"], serde_json::Value::Null);
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert_eq!(AppError::Unauthenticated.http_status(), 401);
        let body = response_body(&AppError::TooLarge { limit: 10 });
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(AppError::TooLarge { limit: 10 }.http_status(), 413);
        let body = response_body(&AppError::internal("db", "password=secret"));
        assert_eq!(body["errors"][0]["message"], "internal error");
        assert!(!body.to_string().contains("secret"));
    }

    #[test]
    fn internal_errors_keep_their_cause_for_the_log() {
        let err = AppError::from(sea_orm::DbErr::Custom("disk full".into()));
        match &err {
            AppError::Internal { source, .. } => assert!(source.to_string().contains("disk full")),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.to_string(), "internal error");
    }

    #[test]
    fn bad_user_input_names_the_field() {
        let gql = AppError::bad_input("input.email", "not an email").extend();
        let ext = gql.extensions.expect("extensions");
        assert_eq!(
            ext.get("field"),
            Some(&async_graphql::Value::String("input.email".into()))
        );
    }

    fn server_error_from(err: AppError) -> async_graphql::ServerError {
        let gql: async_graphql::Error = err.into();
        let mut server = gql.into_server_error(async_graphql::Pos::default());
        assign_code(&mut server);
        server
    }

    #[test]
    fn resolver_errors_converted_with_question_mark_keep_their_code() {
        let server = server_error_from(AppError::NotFound("student"));
        let ext = server.extensions.expect("extensions");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::String("NOT_FOUND".into()))
        );
        let server = server_error_from(AppError::internal("db", "secret detail"));
        assert_eq!(server.message, "internal error");
    }

    #[test]
    fn internal_errors_do_not_reveal_details_to_the_client() {
        let gql = AppError::internal("database", "password=secret host=db").extend();
        assert_eq!(gql.message, "internal error");
    }
}
