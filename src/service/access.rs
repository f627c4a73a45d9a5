//! Loading an outside caller's consent, exception and legal authority state for
//! a set of students.

use crate::domain::RecipientKind;
use crate::error::AppResult;
use crate::policy::access::{self, Naming, StudentAccess};
use chrono::{DateTime, Utc};
use entity::{consent, legal_authority, risk_exception, risk_exception_recipient, student};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

/// Consents and exceptions naming the recipient for these students (two statements),
/// reduced to what is in force at `now`.
pub async fn load(
    db: &impl ConnectionTrait,
    recipient: &(RecipientKind, String),
    student_ids: &[Uuid],
    now: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, StudentAccess>> {
    if student_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let naming = naming(db, recipient, student_ids, false).await?;
    Ok(access::build(&naming, now))
}

/// Consents (with `withdrawn`, withdrawn ones too), exceptions and legal
/// authorities naming the recipient for these students: three statements.
pub async fn naming(
    db: &impl ConnectionTrait,
    (kind, reference): &(RecipientKind, String),
    student_ids: &[Uuid],
    withdrawn: bool,
) -> AppResult<Naming> {
    let mut consents = consent::Entity::find()
        .filter(consent::Column::StudentId.is_in(student_ids.iter().copied()))
        .filter(consent::Column::RecipientKind.eq(kind.as_str()))
        .filter(consent::Column::RecipientRef.eq(reference.clone()));
    if !withdrawn {
        consents = consents.filter(consent::Column::WithdrawnAt.is_null());
    }
    if *kind == RecipientKind::Department {
        // A department consent counts only for a student of that department
        // (the same rule as the row scope: `facts::own_department`). A
        // withdrawn one is kept when asked for: a student leaving the
        // department withdraws it, and the feed says so.
        let own = Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(student::Entity)
                .and_where(
                    Expr::col((student::Entity, student::Column::Id))
                        .equals((consent::Entity, consent::Column::StudentId)),
                )
                .and_where(
                    Expr::col((student::Entity, student::Column::Department))
                        .equals((consent::Entity, consent::Column::RecipientRef)),
                )
                .to_owned(),
        );
        consents = consents.filter(if withdrawn {
            Condition::any()
                .add(consent::Column::WithdrawnAt.is_not_null())
                .add(own)
        } else {
            Condition::all().add(own)
        });
    }
    let consents = consents.all(db).await?;
    let exceptions: Vec<risk_exception::Model> = risk_exception_recipient::Entity::find()
        .filter(risk_exception_recipient::Column::StudentId.is_in(student_ids.iter().copied()))
        .filter(risk_exception_recipient::Column::RecipientKind.eq(kind.as_str()))
        .filter(risk_exception_recipient::Column::RecipientRef.eq(reference.clone()))
        .find_also_related(risk_exception::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(_, e)| e)
        .collect();
    let legal = legal_authority::Entity::find()
        .filter(legal_authority::Column::StudentId.is_in(student_ids.iter().copied()))
        .filter(legal_authority::Column::RecipientKind.eq(kind.as_str()))
        .filter(legal_authority::Column::RecipientRef.eq(reference.clone()))
        .all(db)
        .await?;
    Ok(Naming {
        consents,
        exceptions,
        legal,
    })
}
