//! Admission by cost: the requests executing at once may together cost no more
//! than the server's in-flight budget (the same estimate [`super::cost`] checks
//! each request against). A request the budget has no room for waits in line
//! (first come, first served) and starts when enough of it is released; one that
//! cannot start within the admission wait is answered `SERVER_BUSY` (HTTP 503,
//! `Retry-After`) before anything of it runs.
//!
//! Why: what a request holds while it runs grows with what it asks for (a
//! partner feed page of 100 students with their cases and notes holds tens of
//! MB on SQLite), and without a bound every client that gives up and resends
//! adds another one: 64 concurrent feed pages reached 1.4 GB of RSS
//! (BENCHMARKS.md run 16). A queued request holds only its parsed document.

use crate::error::AppError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The default budget: two of the costliest requests one may send
/// (`--max-cost`, 50,000), or about 44 dashboard pages of 50 cases.
pub const DEFAULT_BUDGET: u64 = 100_000;

/// The default longest wait in line before `SERVER_BUSY`.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// What a refused request is told to wait before retrying.
const RETRY_AFTER_SECS: u64 = 1;

/// The server's in-flight cost budget (one per server; clones share it).
#[derive(Clone, Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    /// An equal budget for read-only requests that have executed and wait for
    /// their audit records' commit (holding their answer and records): a
    /// stalled audit writer fills it, then holds requests executing, then
    /// answers newcomers SERVER_BUSY, as before the two were split.
    awaiting_audit: Arc<Semaphore>,
    budget: u32,
    wait: Duration,
    /// Requests waiting in line now.
    waiting: Arc<AtomicU64>,
}

/// A running request's share of the budget, given back when dropped: once a
/// read-only request has executed (traded for a share of the budget for
/// requests waiting on their audit commit, [`Admitted::await_audit`]), once a
/// request that wrote has committed, or when it was abandoned.
#[derive(Debug)]
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    share: u32,
    awaiting_audit: Arc<Semaphore>,
}

/// A read-only request's share of the budget for requests waiting on their
/// audit commit, given back when dropped.
#[derive(Debug)]
pub struct AwaitingAudit {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Admitted {
    /// Trades the request's share of the executing budget for the same share
    /// of the budget for requests waiting on their audit commit: waits (still
    /// holding the first) until there is room in the second.
    pub async fn await_audit(self) -> AwaitingAudit {
        let permit = self
            .awaiting_audit
            .clone()
            .acquire_many_owned(self.share)
            .await
            // Nothing closes this semaphore.
            .ok();
        drop(self);
        AwaitingAudit { _permit: permit }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        crate::telemetry::admission_in_flight(-i64::from(self.share));
    }
}

/// A request in line, counted until it starts, is refused or is abandoned
/// (its client gone: the waiting future dropped).
struct InLine(Arc<AtomicU64>);

impl InLine {
    fn join(waiting: &Arc<AtomicU64>) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::admission_waiting(1);
        InLine(waiting.clone())
    }
}

impl Drop for InLine {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
        crate::telemetry::admission_waiting(-1);
    }
}

impl Default for Admission {
    fn default() -> Self {
        Admission::new(DEFAULT_BUDGET, DEFAULT_WAIT)
    }
}

impl Admission {
    /// A budget of `budget` cost units (at least 1); a request waits at most `wait`.
    pub fn new(budget: u64, wait: Duration) -> Self {
        let budget = u32::try_from(budget.min(Semaphore::MAX_PERMITS as u64))
            .unwrap_or(u32::MAX)
            .max(1);
        crate::telemetry::admission_budget(budget);
        Admission {
            permits: Arc::new(Semaphore::new(budget as usize)),
            awaiting_audit: Arc::new(Semaphore::new(budget as usize)),
            budget,
            wait,
            waiting: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The part of the budget a request of estimated cost `cost` takes: its cost,
    /// at least 1 (every request counts), at most the whole budget (a request
    /// costlier than the budget, yet under `--max-cost`, runs alone).
    pub fn share(&self, cost: u64) -> u32 {
        u32::try_from(cost.clamp(1, u64::from(self.budget))).unwrap_or(self.budget)
    }

    /// Waits (in arrival order) until the budget has room for `cost`, at most
    /// the admission wait.
    pub async fn admit(&self, cost: u64) -> Result<Admitted, AppError> {
        let share = self.share(cost);
        let in_line = InLine::join(&self.waiting);
        let acquired =
            tokio::time::timeout(self.wait, self.permits.clone().acquire_many_owned(share)).await;
        drop(in_line);
        match acquired {
            Ok(Ok(permit)) => {
                crate::telemetry::admission_in_flight(i64::from(share));
                Ok(Admitted {
                    _permit: permit,
                    share,
                    awaiting_audit: self.awaiting_audit.clone(),
                })
            }
            // The semaphore is never closed; if it were, nothing could run.
            Ok(Err(closed)) => Err(AppError::internal("admission", closed)),
            Err(_elapsed) => {
                tracing::warn!(
                    cost,
                    share,
                    in_flight = self.in_flight(),
                    budget = self.budget,
                    "no room in the in-flight cost budget; answered SERVER_BUSY"
                );
                crate::telemetry::rate_limited("in_flight_cost");
                Err(AppError::Busy {
                    retry_after_secs: RETRY_AFTER_SECS,
                })
            }
        }
    }

    /// The cost of the requests executing now.
    pub fn in_flight(&self) -> u64 {
        u64::from(self.budget).saturating_sub(self.permits.available_permits() as u64)
    }

    /// Requests waiting in line now.
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_takes_its_cost_at_least_one_at_most_the_budget() {
        let admission = Admission::new(1_000, DEFAULT_WAIT);
        assert_eq!(admission.share(0), 1);
        assert_eq!(admission.share(250), 250);
        assert_eq!(admission.share(50_000), 1_000);
        assert_eq!(Admission::new(0, DEFAULT_WAIT).share(5), 1);
    }

    #[tokio::test]
    async fn a_request_waiting_on_its_audit_commit_gives_back_its_executing_share_within_a_budget_of_its_own(
    ) {
        let admission = Admission::new(100, Duration::from_millis(100));
        let first = admission.admit(60).await.unwrap();
        let awaiting = first.await_audit().await;
        // The executing budget is free again.
        assert_eq!(admission.in_flight(), 0);
        let second = admission.admit(60).await.unwrap();
        // The second cannot wait on its audit commit beside the first (60 +
        // 60 > 100): it keeps its executing share meanwhile.
        let trading = tokio::spawn(second.await_audit());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!trading.is_finished());
        assert_eq!(admission.in_flight(), 60);
        // So a third finds no room and is refused.
        assert!(admission.admit(60).await.is_err());
        drop(awaiting);
        let _second_awaiting = trading.await.unwrap();
        assert_eq!(admission.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_request_waits_for_room_and_starts_when_it_is_released() {
        let admission = Admission::new(100, Duration::from_secs(5));
        let first = admission.admit(80).await.unwrap();
        assert_eq!(admission.in_flight(), 80);
        let waiting = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit(50).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "started without room in the budget");
        drop(first);
        waiting.await.unwrap().unwrap();
        assert_eq!(admission.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_request_with_no_room_within_the_wait_is_server_busy() {
        let admission = Admission::new(100, Duration::from_millis(50));
        let _running = admission.admit(100).await.unwrap();
        let refused = admission.admit(1).await.unwrap_err();
        assert!(
            matches!(
                refused,
                AppError::Busy {
                    retry_after_secs: 1
                }
            ),
            "{refused:?}"
        );
        assert_eq!(
            admission.in_flight(),
            100,
            "the refused request took nothing"
        );
    }

    #[tokio::test]
    async fn requests_are_admitted_in_arrival_order() {
        // A large request first in line is not overtaken by smaller ones that
        // would fit (no starvation of costly requests).
        let admission = Admission::new(100, Duration::from_secs(5));
        let running = admission.admit(60).await.unwrap();
        let large = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit(100).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let small = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit(10).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !small.is_finished(),
            "the small request overtook the large one"
        );
        drop(running);
        large.await.unwrap().unwrap();
        small.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_request_in_line_is_counted_until_it_starts_or_is_abandoned() {
        let admission = Admission::new(10, Duration::from_secs(5));
        let running = admission.admit(10).await.unwrap();
        let queued = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit(5).await.map(|_| ()) }
        });
        let abandoned = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit(5).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(admission.waiting(), 2);
        // A client gone while in line: its wait is dropped.
        abandoned.abort();
        let _ = abandoned.await;
        assert_eq!(admission.waiting(), 1);
        drop(running);
        queued.await.unwrap().unwrap();
        assert_eq!(admission.waiting(), 0);
        assert_eq!(admission.in_flight(), 0);
    }
}
