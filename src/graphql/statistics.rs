//! Aggregate statistics under disclosure control: no individual rows, no
//! figure about fewer students than the threshold, none recoverable from its
//! totals or from the caller's earlier queries (see `docs/statistics.md`).

use super::{request_context, reveal};
use crate::domain::CaseStatus;
use crate::error::{AppError, AppResult};
use crate::policy::{Action, Facts, FieldClass, Guarded, Mask, Relation};
use crate::statistics::{
    self, DisclosureMethod, Figure, Filter, Query, StatisticDimension, StatisticMeasure, Table,
};
use async_graphql::{Context, Object, SimpleObject, ID};
use std::sync::Arc;

/// One value of a figure's key.
#[derive(SimpleObject, Clone)]
pub struct StatisticKey {
    pub dimension: StatisticDimension,
    pub value: String,
}

/// A key value as the API names it: statuses and risk levels as their enum
/// values (`OPEN`, `HIGH`), the rest as stored.
fn shown_value(dimension: StatisticDimension, value: &str) -> String {
    match dimension {
        StatisticDimension::Status | StatisticDimension::RiskLevel => value.to_uppercase(),
        _ => value.to_owned(),
    }
}

pub struct StatisticFigureNode {
    record: Guarded<Figure>,
}

/// One figure of a table: a cell, a margin (row or column total) or the total.
#[Object(name = "StatisticFigure")]
impl StatisticFigureNode {
    /// Category STATISTICS. The dimension values this figure counts (empty for the total).
    async fn key(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<StatisticKey>>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |f| {
            Some(
                f.key
                    .iter()
                    .map(|(dimension, value)| StatisticKey {
                        dimension: *dimension,
                        value: shown_value(*dimension, value),
                    })
                    .collect(),
            )
        })
    }

    /// Category STATISTICS. The count (rounded with the rounding method); `null` when suppressed.
    async fn count(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |f| f.count)
    }

    /// Category STATISTICS. Whether the figure is withheld: about fewer students
    /// than the threshold, or one it could be recovered from (no reason is
    /// given, since the reason would itself say which).
    async fn suppressed(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |f| {
            Some(f.count.is_none())
        })
    }
}

pub struct StatisticsTableNode {
    record: Guarded<Table>,
}

/// The figures of a table, each guarded like the table.
fn figures(table: &Guarded<Table>, figures: &[Figure]) -> Vec<StatisticFigureNode> {
    figures
        .iter()
        .map(|f| StatisticFigureNode {
            record: table.part(Arc::new(f.clone())),
        })
        .collect()
}

/// A protected table of counts.
#[Object(name = "StatisticsTable")]
impl StatisticsTableNode {
    /// Category STATISTICS. This release, as named in the audit trail.
    async fn release_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |t| {
            Some(ID(t.release_id.to_string()))
        })
    }

    /// Category STATISTICS.
    async fn measure(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<StatisticMeasure>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |t| {
            Some(t.measure)
        })
    }

    /// Category STATISTICS.
    async fn group_by(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<StatisticDimension>>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |t| {
            Some(t.group_by.clone())
        })
    }

    /// Category STATISTICS. How the figures were protected.
    async fn method(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DisclosureMethod>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |t| {
            Some(t.method)
        })
    }

    /// Category STATISTICS. No figure about fewer distinct students is released.
    async fn threshold(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |t| {
            Some(t.threshold)
        })
    }

    /// Category STATISTICS. The rounding base (rounding method only).
    async fn rounding_base(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |t| {
            t.rounding_base
        })
    }

    /// Category STATISTICS. The total of the filtered population.
    async fn total(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<StatisticFigureNode>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |t| {
            Some(StatisticFigureNode {
                record: self.record.part(Arc::new(t.total.clone())),
            })
        })
    }

    /// Category STATISTICS. The total of each value of each dimension (with
    /// two or more dimensions; with one, the cells are the totals).
    async fn margins(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<StatisticFigureNode>>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |t| {
            Some(figures(&self.record, &t.margins))
        })
    }

    /// Category STATISTICS. The cells with at least one case (a combination
    /// not listed has none).
    async fn cells(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<StatisticFigureNode>>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |t| {
            Some(figures(&self.record, &t.cells))
        })
    }
}

/// Runs a query in the request's write transaction (the release ledger and
/// the audit record are written with it); the table and the mask its
/// figures are read under.
async fn protected_table(ctx: &Context<'_>, query: Query) -> AppResult<(Table, Arc<Mask>)> {
    let rc = request_context(ctx)?;
    let writer = rc.writer(Action::ReadStatistics)?;
    let limits = rc.limits.statistics.clone();
    let population = rc.limits.population.clone();
    let _one = rc.one_scan_at_a_time().await;
    let result: AppResult<(Table, Relation)> = in_transaction!(writer, |txn| {
        statistics::run(&txn, &rc.decisions, &limits, &population, query).await
    });
    let (table, relation) = result?;
    Ok((table, rc.decisions.mask(Facts::base(relation))))
}

pub struct CaseStatisticNode {
    record: Guarded<Figure>,
}

fn key_of(figure: &Figure, dimension: StatisticDimension) -> Option<&str> {
    figure
        .key
        .iter()
        .find(|(d, _)| *d == dimension)
        .map(|(_, v)| v.as_str())
}

/// Case counts for one service and status, under the same disclosure control
/// as `statistics`. Every field is category STATISTICS.
#[Object(name = "CaseStatistic")]
impl CaseStatisticNode {
    /// Category STATISTICS.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |f| {
            key_of(f, StatisticDimension::Service)
        })
    }

    /// Category STATISTICS.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CaseStatus>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |f| {
            key_of(f, StatisticDimension::Status).and_then(CaseStatus::parse)
        })
    }

    /// Category STATISTICS. `null` when suppressed.
    async fn count(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |f| f.count)
    }

    /// Category STATISTICS. Whether the count is withheld.
    async fn suppressed(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, FieldClass::Statistics, |f| {
            Some(f.count.is_none())
        })
    }
}

#[derive(Default)]
pub struct StatisticsQuery;

#[Object]
impl StatisticsQuery {
    /// Counts of students or cases, grouped by up to four dimensions and
    /// filtered, for analysts, the DPO and service leads (their own service
    /// only). Every figure is protected before it leaves the server: figures
    /// about fewer students than the threshold are suppressed (or, with the
    /// rounding method, every figure is rounded), and so is every figure they
    /// could be recovered from, in this table or by differencing it with the
    /// caller's earlier tables. Audited with the figures released.
    async fn statistics(
        &self,
        ctx: &Context<'_>,
        measure: StatisticMeasure,
        #[graphql(default)] group_by: Vec<StatisticDimension>,
        filter: Option<Filter>,
    ) -> async_graphql::Result<Option<StatisticsTableNode>> {
        let query = Query {
            measure,
            group_by,
            filter: filter.unwrap_or_default(),
        };
        let (table, mask) = protected_table(ctx, query).await?;
        Ok(Some(StatisticsTableNode {
            record: Guarded::new(Arc::new(table), mask, None),
        }))
    }

    /// Case counts by service and status, protected like `statistics` (which
    /// it is: `statistics(measure: CASES, groupBy: [SERVICE, STATUS])`).
    #[graphql(deprecation = "use statistics(measure: CASES, groupBy: [SERVICE, STATUS])")]
    async fn case_statistics(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<CaseStatisticNode>>> {
        let query = Query {
            measure: StatisticMeasure::Cases,
            group_by: vec![StatisticDimension::Service, StatisticDimension::Status],
            filter: Filter::default(),
        };
        let (table, mask) = protected_table(ctx, query).await?;
        Ok(Some(
            table
                .cells
                .into_iter()
                .map(|f| CaseStatisticNode {
                    record: Guarded::new(Arc::new(f), mask.clone(), None),
                })
                .collect(),
        ))
    }
}
