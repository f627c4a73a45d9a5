//! Registered (persisted) operations (issue 12, item 3): stored by the SHA-256
//! of their text with the field classes they can return, looked up by hash
//! when a request names one.

use crate::error::{AppError, AppResult};
use entity::registered_operation;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

/// The SHA-256 of a document's text, lower-case hex (as Apollo's
/// `persistedQuery.sha256Hash`).
pub fn hash(document: &str) -> String {
    hex::encode(Sha256::digest(document.as_bytes()))
}

/// Registers a document: checked against the schema (`BAD_USER_INPUT` when
/// invalid), stored with its field classes. The same document twice: the
/// record already there is returned unchanged.
pub async fn register(
    db: &impl ConnectionTrait,
    document: &str,
    registered_by: &str,
) -> AppResult<registered_operation::Model> {
    register_named(db, document, None, registered_by).await
}

/// [`register`] under a name of the operator's choosing (`--name`: which
/// integration it is, e.g. `nhs-trust-feed`), instead of the operation's own
/// name. A blank name or one over 200 characters: `BAD_USER_INPUT`.
pub async fn register_named(
    db: &impl ConnectionTrait,
    document: &str,
    name: Option<&str>,
    registered_by: &str,
) -> AppResult<registered_operation::Model> {
    let name = match name.map(str::trim) {
        Some("") => return Err(AppError::bad_input("name", "empty")),
        Some(n) if n.chars().count() > 200 => {
            return Err(AppError::bad_input("name", "longer than 200 characters"))
        }
        other => other.map(str::to_owned),
    };
    if document.trim().is_empty() {
        return Err(AppError::bad_input("document", "empty"));
    }
    if document.len() > crate::startup::MAX_BODY_BYTES {
        return Err(AppError::bad_input(
            "document",
            "larger than a request may be",
        ));
    }
    let analysed = crate::graphql::operations::analyse(document)?;
    let sha256 = hash(document);
    if let Some(existing) = find(db, &sha256).await? {
        return Ok(existing);
    }
    let mut classes: Vec<&str> = analysed.classes.iter().map(|c| c.as_str()).collect();
    classes.sort_unstable();
    let model = registered_operation::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        sha256: Set(sha256),
        name: Set(name.or(analysed.name)),
        document: Set(document.to_owned()),
        field_classes: Set(classes.join(",")),
        registered_by: Set(registered_by.to_owned()),
        registered_at: Set(chrono::Utc::now()),
    };
    Ok(model.insert(db).await?)
}

/// The operation registered under this hash, if any.
pub async fn find(
    db: &impl ConnectionTrait,
    sha256: &str,
) -> AppResult<Option<registered_operation::Model>> {
    Ok(registered_operation::Entity::find()
        .filter(registered_operation::Column::Sha256.eq(sha256.to_ascii_lowercase()))
        .one(db)
        .await?)
}

/// Every registered operation, newest first.
pub async fn list(db: &impl ConnectionTrait) -> AppResult<Vec<registered_operation::Model>> {
    Ok(registered_operation::Entity::find()
        .order_by_desc(registered_operation::Column::RegisteredAt)
        .order_by_desc(registered_operation::Column::Id)
        .all(db)
        .await?)
}
