//! The research extract (issue 11, item 3): pseudonymised, k-anonymised rows
//! of research-consented students. Every field is category RESEARCH_EXTRACT.

use super::{request_context, reveal};
use crate::policy::{FieldClass, Guarded};
use crate::research::extract::{Extract, Row};
use async_graphql::{Context, Object, ID};

pub struct ResearchExtractNode {
    record: Guarded<Extract>,
}

/// One research extract: a fresh pseudonym per student (stable within this
/// extract, unrelated across extracts), no identifying field, only students
/// whose research consent is in force and whose processing is not restricted,
/// and every released combination of department, year of study, service and
/// labels shared by at least k students. Every field is category RESEARCH_EXTRACT.
#[Object(name = "ResearchExtract")]
impl ResearchExtractNode {
    /// Category RESEARCH_EXTRACT. The extract's id (its record, and the salt
    /// of its pseudonyms).
    async fn id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(ID(m.id.to_string()))
        })
    }

    /// Category RESEARCH_EXTRACT.
    async fn created_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::DateTime<chrono::Utc>>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(m.created_at)
        })
    }

    /// Category RESEARCH_EXTRACT. Every released combination of the
    /// quasi-identifiers is shared by at least this many students.
    async fn k(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(i64::from(m.k))
        })
    }

    /// Category RESEARCH_EXTRACT. Distinct students in the released rows.
    async fn students(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            i64::try_from(m.students).ok()
        })
    }

    /// Category RESEARCH_EXTRACT. Rows left out because their combination
    /// stayed rarer than k after generalisation.
    async fn suppressed_rows(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            i64::try_from(m.suppressed_rows).ok()
        })
    }

    /// Category RESEARCH_EXTRACT. The generalisation level of each quasi-identifier.
    async fn generalisation(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ResearchGeneralisation>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(ResearchGeneralisation(m.generalisation))
        })
    }

    /// Category RESEARCH_EXTRACT. One row per support case released.
    async fn rows(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<ResearchExtractRowNode>>> {
        let parts = reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(m.rows.clone())
        })?;
        Ok(parts.map(|rows| {
            rows.into_iter()
                .map(|row| ResearchExtractRowNode {
                    record: self.record.part(row),
                })
                .collect()
        }))
    }
}

/// Generalisation levels: 0 = as recorded. department: 1 = `*`. yearOfStudy:
/// 1 = `1-2`/`3+`, 2 = `*`. service: 1 = `*`. labels: 1 = `ANY`/`NONE`, 2 = `*`.
pub struct ResearchGeneralisation(crate::research::extract::Generalisation);

#[Object]
impl ResearchGeneralisation {
    async fn department(&self) -> i32 {
        i32::from(self.0.department)
    }

    async fn year_of_study(&self) -> i32 {
        i32::from(self.0.year_of_study)
    }

    async fn service(&self) -> i32 {
        i32::from(self.0.service)
    }

    async fn labels(&self) -> i32 {
        i32::from(self.0.labels)
    }
}

pub struct ResearchExtractRowNode {
    record: Guarded<Row>,
}

/// One support case of a research-consented student. No name, number,
/// contact, date of birth, note, summary, adjustment, third-party entry or
/// id. A quasi-identifier is `*` where generalised away or withheld (no
/// consent names its category). Every field is category RESEARCH_EXTRACT.
#[Object(name = "ResearchExtractRow")]
impl ResearchExtractRowNode {
    /// Category RESEARCH_EXTRACT. The student's pseudonym in this extract
    /// (16 hex characters).
    async fn pseudonym(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(m.pseudonym.as_str())
        })
    }

    /// Category RESEARCH_EXTRACT. Quasi-identifier: the department, or `*`
    /// (needs a general research consent naming ACADEMIC).
    async fn department(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(m.department.as_str())
        })
    }

    /// Category RESEARCH_EXTRACT. Quasi-identifier: the year of study when
    /// the case was opened (`1`, `2`, `3`, `4+`; `1-2`, `3+`; `*`).
    async fn year_of_study(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(m.year_of_study.as_str())
        })
    }

    /// Category RESEARCH_EXTRACT. Quasi-identifier: the service, or `*`.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(m.service.as_str())
        })
    }

    /// Category RESEARCH_EXTRACT. Quasi-identifier: the sensitivity labels on
    /// the case's notes (sorted, `;`-joined; `NONE`), minus those the consent
    /// excludes; then `ANY`/`NONE`; `*` when generalised away or when no
    /// research consent names CASE_NOTES.
    async fn labels(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(m.labels.as_str())
        })
    }

    /// Category RESEARCH_EXTRACT. `open` or `closed`.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(m.status.as_str())
        })
    }

    /// Category RESEARCH_EXTRACT. `YYYY-MM`.
    async fn month_opened(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            Some(m.month_opened.as_str())
        })
    }

    /// Category RESEARCH_EXTRACT. `YYYY-MM`; null while open.
    async fn month_closed(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            m.month_closed.as_deref()
        })
    }

    /// Category RESEARCH_EXTRACT. UNDER_1_MONTH, MONTHS_1_TO_3, MONTHS_3_TO_6,
    /// MONTHS_6_TO_12, OVER_12_MONTHS; null while open.
    async fn duration_band(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            m.duration_band.as_deref()
        })
    }

    /// Category RESEARCH_EXTRACT. none, low, medium, high; null unless a
    /// research consent covering the case names RISK.
    async fn risk_level(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ResearchExtract, |m| {
            m.risk_level.as_deref()
        })
    }
}

#[derive(Default)]
pub struct ResearchQuery;

#[Object]
impl ResearchQuery {
    /// A new research extract (analysts only): pseudonymised, k-anonymised,
    /// one row per support case of the students whose research consent is in
    /// force. `k` may raise the configured k, never lower it (BAD_USER_INPUT).
    /// Each call is a new extract with new pseudonyms, recorded and audited.
    async fn research_extract(
        &self,
        ctx: &Context<'_>,
        k: Option<i32>,
    ) -> async_graphql::Result<Option<ResearchExtractNode>> {
        let rc = request_context(ctx)?;
        let record = rc.research_extract(k.map(i64::from)).await?;
        Ok(Some(ResearchExtractNode { record }))
    }
}
