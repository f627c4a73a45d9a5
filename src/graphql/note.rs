//! Case notes and third-party entries.

use super::context::CaseGroup;
use super::inline::{Inline, InlineFields};
use super::pagination::id;
use super::staff::StaffMemberNode;
use super::{request_context, reveal};
use crate::domain::{labels_from_json, NoteKind, SensitivityLabel};
use crate::policy::{FieldClass, Guarded};
use async_graphql::{Context, Object, ID};
use entity::{note, third_party_entry};
use std::sync::Arc;

pub struct NoteNode {
    record: Guarded<note::Model>,
    group: Option<Arc<CaseGroup>>,
}

impl NoteNode {
    pub fn new(record: Guarded<note::Model>, group: Arc<CaseGroup>) -> Self {
        NoteNode {
            record,
            group: Some(group),
        }
    }
}

impl From<Guarded<note::Model>> for NoteNode {
    fn from(record: Guarded<note::Model>) -> Self {
        NoteNode {
            record,
            group: None,
        }
    }
}

/// A case note. Every field but the id is category CASE_NOTES.
#[Object(name = "Note")]
impl NoteNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }

    /// Category CASE_NOTES.
    async fn kind(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NoteKind>> {
        reveal(ctx, &self.record, FieldClass::CaseNotes, |m| {
            NoteKind::parse(&m.kind)
        })
    }

    /// Category CASE_NOTES.
    async fn occurred_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::DateTime<chrono::Utc>>> {
        reveal(ctx, &self.record, FieldClass::CaseNotes, |m| {
            Some(m.occurred_at)
        })
    }

    /// Category CASE_NOTES.
    async fn author(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Inline<StaffMemberNode>>> {
        let Some(author) = reveal(ctx, &self.record, FieldClass::CaseNotes, |m| {
            Some(m.author_id)
        })?
        else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let entry = match &self.group {
            Some(group) => Box::pin(rc.note_author(group, &self.record, author)).await?,
            None => Box::pin(rc.author_of(&self.record, author)).await?,
        };
        Ok(entry.map(|s| Inline(StaffMemberNode::new(s, FieldClass::CaseNotes))))
    }

    /// Category CASE_NOTES. The note's text.
    async fn body(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::CaseNotes, |m| {
            Some(m.body.as_str())
        })
    }

    /// Category CASE_NOTES. Sensitivity labels (special category data).
    async fn labels(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<SensitivityLabel>>> {
        reveal(ctx, &self.record, FieldClass::CaseNotes, |m| {
            Some(labels_from_json(&m.labels))
        })
    }
}

pub struct ThirdPartyEntryNode {
    record: Guarded<third_party_entry::Model>,
}

impl From<Guarded<third_party_entry::Model>> for ThirdPartyEntryNode {
    fn from(record: Guarded<third_party_entry::Model>) -> Self {
        ThirdPartyEntryNode { record }
    }
}

/// Information from or about someone other than the student. Never shown outside
/// the owning service. Every field but the id is category THIRD_PARTY.
#[Object(name = "ThirdPartyEntry")]
impl ThirdPartyEntryNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }

    /// Category THIRD_PARTY. Who provided the information.
    async fn source(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ThirdParty, |m| {
            Some(m.source.as_str())
        })
    }

    /// Category THIRD_PARTY. Who the information is about.
    async fn subject(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ThirdParty, |m| {
            Some(m.subject.as_str())
        })
    }

    /// Category THIRD_PARTY.
    async fn body(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ThirdParty, |m| {
            Some(m.body.as_str())
        })
    }

    /// Category THIRD_PARTY. Whether the third party consented to disclosure.
    async fn third_party_consented(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, FieldClass::ThirdParty, |m| {
            Some(m.third_party_consented)
        })
    }

    /// Category THIRD_PARTY. When the entry was recorded.
    async fn created_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::DateTime<chrono::Utc>>> {
        reveal(ctx, &self.record, FieldClass::ThirdParty, |m| {
            Some(m.created_at)
        })
    }
}

impl InlineFields for NoteNode {
    const INLINE: &'static [&'static str] = &["id", "kind", "occurredAt", "body", "labels"];
}

impl InlineFields for ThirdPartyEntryNode {
    const INLINE: &'static [&'static str] = &[
        "id",
        "source",
        "subject",
        "body",
        "thirdPartyConsented",
        "createdAt",
    ];
}
