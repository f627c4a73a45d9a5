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
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadUserInput { .. } => "BAD_USER_INPUT",
            AppError::Conflict(_) => "CONFLICT",
            AppError::Internal(_) => "INTERNAL",
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

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        AppError::Internal(format!("{context}: {err}"))
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        AppError::Internal(format!("database: {err}"))
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
        if let AppError::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", self.code());
            if let AppError::BadUserInput { field, .. } = self {
                e.set("field", field.as_str());
            }
        })
    }
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
            if let AppError::Internal(detail) = app {
                tracing::error!(%detail, "internal error");
            }
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
        assert_eq!(code_of(AppError::NotFound("student")), "NOT_FOUND");
        assert_eq!(
            code_of(AppError::bad_input("email", "bad")),
            "BAD_USER_INPUT"
        );
        assert_eq!(code_of(AppError::Conflict("dup".into())), "CONFLICT");
        assert_eq!(code_of(AppError::internal("x", "y")), "INTERNAL");
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
