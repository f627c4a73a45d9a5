use super::cases::{authorized_case, CaseRow};
use crate::domain::{labels_to_json, NoteKind, SensitivityLabel};
use crate::error::{AppError, AppResult};
use crate::policy::{Action, Decisions, FieldClass};
use entity::{enrolment, note, support_case, third_party_entry};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct NewNote {
    pub case_id: Uuid,
    pub kind: NoteKind,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub body: String,
    pub labels: Vec<SensitivityLabel>,
}

pub async fn add(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    new: NewNote,
) -> AppResult<(note::Model, CaseRow)> {
    let row = authorized_case(db, decisions, new.case_id, Action::AddNote).await?;
    if new.occurred_at > chrono::Utc::now() + chrono::Duration::minutes(5) {
        return Err(AppError::bad_input(
            "occurredAt",
            "must not be in the future",
        ));
    }
    // Not before the student's first period of study (or, with none on file,
    // not before the case was opened).
    let first_enrolment = enrolment::Entity::find()
        .filter(enrolment::Column::StudentId.eq(row.1.id))
        .order_by_asc(enrolment::Column::StartsOn)
        .one(db)
        .await?;
    let earliest = match first_enrolment {
        Some(e) => e.starts_on,
        None => row.0.opened_at.date_naive(),
    };
    if new.occurred_at.date_naive() < earliest {
        return Err(AppError::bad_input(
            "occurredAt",
            format!("must not be before {earliest} (the student's first enrolment, or the case's opening)"),
        ));
    }
    let mut labels = new.labels;
    labels.sort_by_key(|l| l.as_str());
    labels.dedup();
    let note = note::ActiveModel {
        id: Set(Uuid::new_v4()),
        case_id: Set(new.case_id),
        kind: Set(new.kind.as_str().to_owned()),
        occurred_at: Set(new.occurred_at),
        author_id: Set(decisions.caller().id),
        body: Set(new.body),
        labels: Set(labels_to_json(&labels)),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(db)
    .await?;
    touch(db, &row.0).await?;
    let notes = FieldClass::CaseNotes.into();
    super::changes::record(db, row.1.id, Some(row.0.id), notes, &labels).await?;
    decisions.wrote(Action::AddNote, Some(row.1.id), note.id);
    Ok((note, row))
}

#[derive(Clone, Debug)]
pub struct NewThirdPartyEntry {
    pub case_id: Uuid,
    pub source: String,
    pub subject: String,
    pub body: String,
    pub third_party_consented: bool,
    pub disclosure_justification: Option<String>,
}

pub async fn add_third_party(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    new: NewThirdPartyEntry,
) -> AppResult<(third_party_entry::Model, CaseRow)> {
    let row = authorized_case(db, decisions, new.case_id, Action::RecordThirdPartyEntry).await?;
    let entry = third_party_entry::ActiveModel {
        id: Set(Uuid::new_v4()),
        case_id: Set(new.case_id),
        source: Set(new.source),
        subject: Set(new.subject),
        body: Set(new.body),
        third_party_consented: Set(new.third_party_consented),
        disclosure_justification: Set(new.disclosure_justification),
        recorded_by: Set(decisions.caller().id),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(db)
    .await?;
    touch(db, &row.0).await?;
    let entries = FieldClass::ThirdParty.into();
    super::changes::record(db, row.1.id, Some(row.0.id), entries, &[]).await?;
    decisions.wrote(Action::RecordThirdPartyEntry, Some(row.1.id), entry.id);
    Ok((entry, row))
}

async fn touch(db: &impl ConnectionTrait, case: &support_case::Model) -> AppResult<()> {
    let mut model: support_case::ActiveModel = case.clone().into();
    model.updated_at = Set(chrono::Utc::now());
    model.update(db).await?;
    Ok(())
}
