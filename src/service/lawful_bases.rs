//! The lawful basis configuration (issue 10, item 1): which UK GDPR Art. 6
//! and Art. 9 conditions each kind of basis rests on. The DPO reads and sets
//! them; every audit record written afterwards carries the condition then
//! configured (read with the chain head, in the same statement), and records
//! already written keep theirs (they are chained).

use crate::error::{AppError, AppResult};
use crate::policy::{Action, Decisions, Relation};
use crate::service::audit::{self, BasisKind, Event};
use entity::lawful_basis;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, Set};

/// A condition as the DPO gives it: `Art. 6(1)(x) <name>` or `Art. 9(2)(x) <name>`.
fn condition(
    field: &str,
    text: &str,
    article: &str,
    letters: std::ops::RangeInclusive<char>,
) -> AppResult<String> {
    let text = crate::domain::required_text(field, text, 200)?;
    let shape = format!(
        "{article}(x) <name>, x from {} to {}",
        letters.start(),
        letters.end()
    );
    let rest = text
        .strip_prefix(article)
        .and_then(|r| r.strip_prefix('('))
        .ok_or_else(|| AppError::bad_input(field, format!("must read {shape}")))?;
    let mut chars = rest.chars();
    let well_formed = chars.next().is_some_and(|c| letters.contains(&c))
        && chars.next() == Some(')')
        && chars.next() == Some(' ')
        && chars.as_str().trim().len() >= 2;
    if !well_formed {
        return Err(AppError::bad_input(field, format!("must read {shape}")));
    }
    Ok(text)
}

/// The configuration, one row per kind (the DPO; anyone who may query the
/// audit trail, whose records name these conditions).
pub async fn list(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
) -> AppResult<Vec<lawful_basis::Model>> {
    decisions.authorize(Action::QueryAuditTrail, Relation::Any)?;
    Ok(lawful_basis::Entity::find()
        .order_by_asc(lawful_basis::Column::Kind)
        .all(db)
        .await?)
}

/// Sets the conditions one kind of basis rests on (the DPO). Audited, with
/// the previous and new conditions.
pub async fn set(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    kind: BasisKind,
    article6: &str,
    article9: &str,
) -> AppResult<lawful_basis::Model> {
    decisions.authorize(Action::ConfigureLawfulBasis, Relation::Any)?;
    let article6 = condition("article6", article6, "Art. 6(1)", 'a'..='f')?;
    let article9 = condition("article9", article9, "Art. 9(2)", 'a'..='j')?;
    let caller = decisions.caller();
    let now = chrono::SubsecRound::trunc_subsecs(decisions.now(), 6);
    let previous = lawful_basis::Entity::find_by_id(kind.as_str().to_owned())
        .one(db)
        .await?;
    let model = lawful_basis::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        article6: Set(article6.clone()),
        article9: Set(article9.clone()),
        updated_by: Set(Some(caller.id)),
        updated_at: Set(Some(now)),
    };
    let model = match &previous {
        Some(_) => model.update(db).await?,
        None => model.insert(db).await?,
    };
    audit::write(
        db,
        caller,
        decisions.origin(),
        vec![Event {
            student_id: None,
            action: "lawful_basis_configured",
            fields: vec![kind.as_str().to_owned()],
            outcome: "allow",
            basis: Some(format!("role:{}", caller.role.as_str())),
            detail: Some(
                serde_json::json!({
                    "kind": kind.as_str(),
                    "previous": previous.map(|p| [p.article6, p.article9]),
                    "now": [article6, article9],
                })
                .to_string(),
            ),
        }],
    )
    .await?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::condition;

    #[test]
    fn a_condition_must_name_its_article_and_point() {
        assert!(condition("a", "Art. 6(1)(e) public task", "Art. 6(1)", 'a'..='f').is_ok());
        assert!(condition("a", "Art. 9(2)(j) research", "Art. 9(2)", 'a'..='j').is_ok());
        for bad in [
            "public task",
            "Art. 6(1)(g) invented",
            "Art. 6(1)(e)",
            "Art. 6(1)(e)public task",
            "Art. 9(2)(h) care",
            "",
        ] {
            assert!(
                condition("a", bad, "Art. 6(1)", 'a'..='f').is_err(),
                "{bad:?} accepted"
            );
        }
    }
}
