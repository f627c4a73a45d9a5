//! Case notes, third-party entries and the staff directory.

use super::pagination::id;
use super::support_case::CaseGroup;
use super::{reveal, Guard};
use crate::domain::{labels_from_json, NoteKind, Role, SensitivityLabel};
use crate::policy::FieldClass;
use async_graphql::{Context, Object, SimpleObject, ID};
use entity::{note, staff, third_party_entry};
use std::sync::Arc;

/// A member of staff, as the staff directory shows them.
#[derive(SimpleObject, Clone, Debug)]
pub struct StaffMember {
    pub id: ID,
    pub name: String,
    pub role: Option<Role>,
    pub service: Option<String>,
}

impl From<&staff::Model> for StaffMember {
    fn from(s: &staff::Model) -> Self {
        StaffMember {
            id: id(s.id),
            name: s.name.clone(),
            role: Role::parse(&s.role),
            service: s.service.clone(),
        }
    }
}

pub struct NoteNode {
    model: Arc<note::Model>,
    guard: Guard,
    group: Arc<CaseGroup>,
}

impl NoteNode {
    pub fn new(model: Arc<note::Model>, guard: Guard, group: Arc<CaseGroup>) -> Self {
        NoteNode {
            model,
            guard,
            group,
        }
    }
}

/// A case note. Every field but the id is category CASE_NOTES.
#[Object(name = "Note")]
impl NoteNode {
    async fn id(&self) -> ID {
        id(self.model.id)
    }

    /// Category CASE_NOTES.
    async fn kind(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NoteKind>> {
        reveal(ctx, &self.guard, FieldClass::CaseNotes, || {
            NoteKind::parse(&self.model.kind)
        })
    }

    /// Category CASE_NOTES.
    async fn occurred_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::DateTime<chrono::Utc>>> {
        reveal(ctx, &self.guard, FieldClass::CaseNotes, || {
            Some(self.model.occurred_at)
        })
    }

    /// Category CASE_NOTES.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<StaffMember>> {
        if reveal(ctx, &self.guard, FieldClass::CaseNotes, || Some(()))?.is_none() {
            return Ok(None);
        }
        self.group.note_author(ctx, self.model.author_id).await
    }

    /// Category CASE_NOTES. The note's text.
    async fn body(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::CaseNotes, || {
            Some(self.model.body.as_str())
        })
    }

    /// Category CASE_NOTES. Sensitivity labels (special category data).
    async fn labels(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<SensitivityLabel>>> {
        reveal(ctx, &self.guard, FieldClass::CaseNotes, || {
            Some(labels_from_json(&self.model.labels))
        })
    }
}

pub struct ThirdPartyEntryNode {
    model: third_party_entry::Model,
    guard: Guard,
}

impl ThirdPartyEntryNode {
    pub fn new(model: third_party_entry::Model, guard: Guard) -> Self {
        ThirdPartyEntryNode { model, guard }
    }
}

/// Information from or about someone other than the student. Never shown outside
/// the owning service. Every field but the id is category THIRD_PARTY.
#[Object(name = "ThirdPartyEntry")]
impl ThirdPartyEntryNode {
    async fn id(&self) -> ID {
        id(self.model.id)
    }

    /// Category THIRD_PARTY. Who provided the information.
    async fn source(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::ThirdParty, || {
            Some(self.model.source.as_str())
        })
    }

    /// Category THIRD_PARTY. Who the information is about.
    async fn subject(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::ThirdParty, || {
            Some(self.model.subject.as_str())
        })
    }

    /// Category THIRD_PARTY.
    async fn body(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::ThirdParty, || {
            Some(self.model.body.as_str())
        })
    }

    /// Category THIRD_PARTY. Whether the third party consented to disclosure.
    async fn third_party_consented(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.guard, FieldClass::ThirdParty, || {
            Some(self.model.third_party_consented)
        })
    }

    /// When the entry was recorded (not guarded: a timestamp).
    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.model.created_at
    }
}
