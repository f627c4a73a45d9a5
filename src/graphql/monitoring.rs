//! The monitoring view (issue 11, item 4): every field is class MONITORING,
//! read through the guard; figures about students are protected by the
//! statistics disclosure control before they get here (`crate::monitoring`).

use super::{request_context, reveal};
use crate::error::{AppError, AppResult};
use crate::monitoring::{self, Caseload, Count, ServiceView, View, WaitingRow};
use crate::policy::{Action, Facts, FieldClass, Guarded};
use crate::statistics::DisclosureMethod;
use async_graphql::{Context, Object, ID};
use std::sync::Arc;

const M: FieldClass = FieldClass::Monitoring;

pub struct MonitoringNode {
    record: Guarded<View>,
}

/// Monitoring figures, one entry per service in the caller's scope.
#[Object(name = "Monitoring")]
impl MonitoringNode {
    /// Category MONITORING. This release, as named in the audit trail.
    async fn release_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, M, |v| Some(ID(v.release_id.to_string())))
    }

    /// Category MONITORING. When the figures were computed.
    async fn generated_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::DateTime<chrono::Utc>>> {
        reveal(ctx, &self.record, M, |v| Some(v.generated_at))
    }

    /// Category MONITORING. No figure about fewer distinct students is released.
    async fn threshold(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, M, |v| Some(v.threshold))
    }

    /// Category MONITORING. How the figures about students were protected.
    async fn method(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DisclosureMethod>> {
        reveal(ctx, &self.record, M, |v| Some(v.method))
    }

    /// Category MONITORING. A service lead: their own service; the DPO: every
    /// configured service.
    async fn services(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<ServiceMonitoringNode>>> {
        reveal(ctx, &self.record, M, |v| {
            Some(
                v.services
                    .iter()
                    .map(|s| ServiceMonitoringNode {
                        record: self.record.part(Arc::new(s.clone())),
                    })
                    .collect(),
            )
        })
    }
}

pub struct ServiceMonitoringNode {
    record: Guarded<ServiceView>,
}

fn count(record: &Guarded<ServiceView>, c: &Count) -> MonitoringCountNode {
    MonitoringCountNode {
        record: record.part(Arc::new(c.clone())),
    }
}

/// The monitoring figures of one service.
#[Object(name = "ServiceMonitoring")]
impl ServiceMonitoringNode {
    /// Category MONITORING.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, M, |s| Some(s.service.as_str()))
    }

    /// Category MONITORING. Cases opened in each of the last twelve months
    /// (oldest first), and the days from opening to the first note. Protected:
    /// a month about fewer students than the threshold shows no figures, nor
    /// does any month it could be recovered from.
    async fn waiting_times(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<WaitingTimeNode>>> {
        reveal(ctx, &self.record, M, |s| {
            Some(
                s.waiting_months
                    .iter()
                    .map(|r| WaitingTimeNode {
                        record: self.record.part(Arc::new(r.clone())),
                    })
                    .collect(),
            )
        })
    }

    /// Category MONITORING. The twelve months together (`month` is null).
    async fn waiting_total(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<WaitingTimeNode>> {
        reveal(ctx, &self.record, M, |s| {
            Some(WaitingTimeNode {
                record: self.record.part(Arc::new(s.waiting_total.clone())),
            })
        })
    }

    /// Category MONITORING. Open cases held by each active practitioner and
    /// service lead of the service, exactly (figures about staff).
    async fn caseload(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<CaseloadNode>>> {
        reveal(ctx, &self.record, M, |s| {
            Some(
                s.caseload
                    .iter()
                    .map(|c| CaseloadNode {
                        record: self.record.part(Arc::new(c.clone())),
                    })
                    .collect(),
            )
        })
    }

    /// Category MONITORING. Open cases with no active assignee in the service. Protected.
    async fn unassigned_open_cases(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<MonitoringCountNode>> {
        reveal(ctx, &self.record, M, |s| {
            Some(count(&self.record, &s.unassigned))
        })
    }

    /// Category MONITORING. Risk exceptions in force (confirmed, not revoked,
    /// not expired) proposed by a professional of the service. Protected.
    async fn open_risk_exceptions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<MonitoringCountNode>> {
        reveal(ctx, &self.record, M, |s| {
            Some(count(&self.record, &s.open_risk_exceptions))
        })
    }

    /// Category MONITORING. Emergency disclosures made by a practitioner of
    /// the service and not reviewed by their due date. Protected.
    async fn overdue_emergency_reviews(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<MonitoringCountNode>> {
        reveal(ctx, &self.record, M, |s| {
            Some(count(&self.record, &s.overdue_emergency_reviews))
        })
    }

    /// Category MONITORING. Break-glass reads of the service's cases awaiting
    /// review. Protected.
    async fn pending_break_glass_reviews(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<MonitoringCountNode>> {
        reveal(ctx, &self.record, M, |s| {
            Some(count(&self.record, &s.pending_break_glass_reviews))
        })
    }
}

pub struct WaitingTimeNode {
    record: Guarded<WaitingRow>,
}

/// Waiting times of the cases opened in a month (no appointments are
/// recorded, so the wait is from opening to the first note). `null` figures
/// are suppressed.
#[Object(name = "WaitingTime")]
impl WaitingTimeNode {
    /// Category MONITORING. The month opened ("2026-03"); null for the twelve months together.
    async fn month(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, M, |r| r.month.as_deref())
    }

    /// Category MONITORING. Cases opened.
    async fn cases(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, M, |r| r.cases)
    }

    /// Category MONITORING. Of them, cases with at least one note.
    async fn seen(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, M, |r| r.seen)
    }

    /// Category MONITORING. Of them, cases with no note yet (still waiting).
    async fn still_waiting(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, M, |r| r.waiting)
    }

    /// Category MONITORING. Median days from opening to the first note, over the cases seen.
    async fn median_days(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<f64>> {
        reveal(ctx, &self.record, M, |r| r.median_days)
    }

    /// Category MONITORING. 90th percentile (nearest rank) of the same days.
    async fn p90_days(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<f64>> {
        reveal(ctx, &self.record, M, |r| r.p90_days)
    }

    /// Category MONITORING. Whether the month's case count is withheld.
    async fn suppressed(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, M, |r| Some(r.cases.is_none()))
    }
}

pub struct CaseloadNode {
    record: Guarded<Caseload>,
}

/// Open cases held by one member of staff.
#[Object(name = "PractitionerCaseload")]
impl CaseloadNode {
    /// Category MONITORING.
    async fn staff_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, M, |c| Some(ID(c.staff_id.to_string())))
    }

    /// Category MONITORING.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, M, |c| Some(c.name.as_str()))
    }

    /// Category MONITORING.
    async fn open_cases(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, M, |c| Some(c.open_cases))
    }
}

pub struct MonitoringCountNode {
    record: Guarded<Count>,
}

/// A count about students, under disclosure control.
#[Object(name = "MonitoringCount")]
impl MonitoringCountNode {
    /// Category MONITORING. `null` when suppressed.
    async fn count(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        reveal(ctx, &self.record, M, |c| c.count)
    }

    /// Category MONITORING. Whether the count is withheld (about fewer
    /// students than the threshold).
    async fn suppressed(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, M, |c| Some(c.count.is_none()))
    }
}

#[derive(Default)]
pub struct MonitoringQuery;

#[Object]
impl MonitoringQuery {
    /// The monitoring view for service leads (their own service) and the DPO
    /// (every service): waiting times, caseload per practitioner, open risk
    /// exceptions and overdue reviews. Figures about students are under the
    /// statistics disclosure control; the view is audited with the figures
    /// released.
    async fn monitoring(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<MonitoringNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::ReadMonitoring)?;
        let _one = rc.one_scan_at_a_time().await;
        let limits = rc.limits.statistics.clone();
        let services = rc.limits.services.clone();
        let result: AppResult<_> = in_transaction!(writer, |txn| {
            monitoring::run(&txn, &rc.decisions, &limits, &services).await
        });
        let (view, relation) = result?;
        let mask = rc.decisions.mask(Facts::base(relation));
        Ok(Some(MonitoringNode {
            record: Guarded::new(Arc::new(view), mask, None),
        }))
    }
}
