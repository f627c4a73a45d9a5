//! Re-identification of a research pseudonym by the DPO (who holds the key):
//! the pseudonyms of every student on file are recomputed for the extract
//! until one matches. Audited whether or not a student is found, with the
//! reason given.

use super::pseudonym::{self, LENGTH};
use super::Config;
use crate::error::{AppError, AppResult};
use crate::policy::{Action, Decisions, FieldClass, Relation};
use crate::service::audit::{self, Event};
use entity::{research_extract, student};
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};
use uuid::Uuid;

/// The student behind `pseudonym` in extract `extract`, if any is on file.
pub async fn reidentify(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    config: &Config,
    extract: Uuid,
    pseudonym: &str,
    reason: &str,
) -> AppResult<Option<Uuid>> {
    decisions.authorize(Action::ReidentifyResearchPseudonym, Relation::Any)?;
    let reason = crate::domain::required_text("reason", reason, 1000)?;
    if pseudonym.len() != LENGTH || !pseudonym.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AppError::bad_input(
            "pseudonym",
            format!("must be {LENGTH} hex characters"),
        ));
    }
    research_extract::Entity::find_by_id(extract)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("research extract"))?;
    let students: Vec<Uuid> = student::Entity::find()
        .select_only()
        .column(student::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let found = pseudonym::reidentify(
        config.key(),
        extract,
        &pseudonym.to_ascii_lowercase(),
        students,
    )?;
    let caller = decisions.caller();
    audit::write(
        db,
        caller,
        decisions.origin(),
        vec![Event {
            student_id: found,
            action: "research_reidentify",
            fields: vec![FieldClass::ResearchExtract.as_str().to_owned()],
            outcome: "allow",
            basis: Some(format!("role:{}", caller.role.as_str())),
            detail: Some(
                serde_json::json!({
                    "extract": extract,
                    "pseudonym": pseudonym,
                    "found": found.is_some(),
                    "reason": reason,
                })
                .to_string(),
            ),
        }],
    )
    .await?;
    Ok(found)
}
