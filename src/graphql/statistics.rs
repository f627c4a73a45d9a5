//! Aggregate statistics: no individual rows.

use super::{request_context, reveal};
use crate::domain::CaseStatus;
use crate::policy::{FieldClass, Guarded};
use crate::service::cases::CaseStatistic;
use async_graphql::{Context, Object};

pub struct CaseStatisticNode {
    record: Guarded<CaseStatistic>,
}

/// Case counts for one service and status. Students whose processing is
/// restricted are not counted. Every field is category STATISTICS.
#[Object(name = "CaseStatistic")]
impl CaseStatisticNode {
    /// Category STATISTICS.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |m| {
            Some(m.service.as_str())
        })
    }

    /// Category STATISTICS.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CaseStatus>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |m| {
            CaseStatus::parse(&m.status)
        })
    }

    /// Category STATISTICS.
    async fn count(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |m| Some(m.count))
    }
}

#[derive(Default)]
pub struct StatisticsQuery;

#[Object]
impl StatisticsQuery {
    /// Aggregate case statistics (analysts, service leads, the DPO): no individual rows.
    async fn case_statistics(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<CaseStatisticNode>>> {
        let rc = request_context(ctx)?;
        Ok(Some(
            rc.case_statistics()
                .await?
                .into_iter()
                .map(|record| CaseStatisticNode { record })
                .collect(),
        ))
    }
}
