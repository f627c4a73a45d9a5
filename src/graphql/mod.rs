//! The GraphQL layer: a pure [`schema`] builder, and [`execute`], which runs one
//! request for one caller and adds `extensions.redactions` (and, when enabled,
//! `extensions.cost`).
//!
//! Every guarded field reads its outcome from the record's [`Mask`] through
//! [`reveal`]; no resolver decides access itself.

/// Runs a write in one transaction: committed only if it succeeds.
macro_rules! in_transaction {
    ($rc:expr, |$txn:ident| $body:expr) => {{
        let $txn = $rc.db.begin().await.map_err(AppError::from)?;
        let result: AppResult<_> = $body;
        match result {
            Ok(value) => {
                $txn.commit().await.map_err(AppError::from)?;
                Ok::<_, AppError>(value)
            }
            Err(e) => {
                if let Err(rollback) = $txn.rollback().await {
                    tracing::error!(error = %rollback, "rollback failed");
                }
                Err(e)
            }
        }
    }};
}

mod audit;
mod mutation;
mod note;
mod pagination;
mod query;
mod sharing;
mod student;
mod support_case;

use crate::auth::Caller;
use crate::db;
use crate::error::AppError;
use crate::policy::access::{self, StudentAccess};
use crate::policy::{Decisions, FieldClass, Mask, Outcome, Policy, Reason};
use crate::service;
use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, MergedObject, Request, Response, Schema,
    SchemaBuilder,
};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// The query root: the core records, and the sharing workflows.
#[derive(MergedObject, Default)]
pub struct QueryRoot(query::CoreQuery, sharing::SharingQuery);

/// The mutation root.
#[derive(MergedObject, Default)]
pub struct MutationRoot(mutation::CoreMutation, sharing::SharingMutation);

pub type ConfideSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Query depth and complexity limits: bound the work of one request.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 5_000;

pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
}

/// The schema, with no data attached: per-request data is added by [`execute`].
pub fn schema() -> ConfideSchema {
    schema_builder().finish()
}

/// Limits of one request's lists.
#[derive(Copy, Clone, Debug)]
pub struct Limits {
    pub max_page_size: u32,
    /// Longest a risk exception may last, in hours.
    pub risk_exception_max_hours: i64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Redaction {
    pub path: serde_json::Value,
    pub reason: Reason,
}

/// Everything one request's resolvers share.
pub struct RequestContext {
    pub db: DatabaseConnection,
    pub decisions: Decisions,
    pub limits: Limits,
    redactions: Mutex<Vec<Redaction>>,
    /// Outside callers: consent and exception state per student, loaded once per request.
    access: tokio::sync::Mutex<HashMap<Uuid, Arc<StudentAccess>>>,
    /// Field classes allowed / redacted / denied per student, for the audit trail.
    releases: Mutex<Releases>,
}

/// Field-class bits allowed / redacted / denied, per (student, case or the
/// student record itself).
pub(crate) type Releases = HashMap<(Uuid, Option<Uuid>), [u16; 3]>;

/// A record's guard: its mask and the student it is about. Each outcome of each
/// class is reported to the audit trail once per record.
pub struct Guard {
    mask: Arc<Mask>,
    student: Uuid,
    case: Option<Uuid>,
    seen: AtomicU64,
}

impl Guard {
    /// The guard of a record about `student` (and, for case data, `case`).
    pub fn new(mask: Arc<Mask>, student: Uuid, case: Option<Uuid>) -> Self {
        Guard {
            mask,
            student,
            case,
            seen: AtomicU64::new(0),
        }
    }

    pub fn facts(&self) -> crate::policy::Facts {
        self.mask.facts()
    }

    pub fn same(&self) -> Self {
        Guard::new(self.mask.clone(), self.student, self.case)
    }
}

fn outcome_index(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Allow => 0,
        Outcome::Redact(_) => 1,
        Outcome::Deny(_) => 2,
    }
}

impl RequestContext {
    /// The outside caller's access to these students (empty for other callers).
    pub async fn access_for(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Arc<StudentAccess>>, AppError> {
        let Some(recipient) = access::caller_recipient(self.decisions.caller()) else {
            return Ok(HashMap::new());
        };
        let mut cache = self.access.lock().await;
        let missing: Vec<Uuid> = ids
            .iter()
            .filter(|id| !cache.contains_key(id))
            .copied()
            .collect();
        if !missing.is_empty() {
            let mut loaded =
                service::access::load(&self.db, &recipient, &missing, self.decisions.now()).await?;
            for id in missing {
                let access = loaded.remove(&id).unwrap_or_default();
                cache.insert(id, Arc::new(access));
            }
        }
        Ok(ids
            .iter()
            .filter_map(|id| cache.get(id).map(|a| (*id, a.clone())))
            .collect())
    }

    fn record(&self, guard: &Guard, class: FieldClass, outcome: Outcome) {
        let mut releases = match self.releases.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        releases.entry((guard.student, guard.case)).or_default()[outcome_index(outcome)] |=
            class.bit();
    }

    fn redact(&self, ctx: &Context<'_>, reason: Reason) {
        let path = ctx
            .path_node
            .as_ref()
            .and_then(|p| serde_json::to_value(p).ok())
            .unwrap_or(serde_json::Value::Null);
        match self.redactions.lock() {
            Ok(mut r) => r.push(Redaction { path, reason }),
            Err(poisoned) => poisoned.into_inner().push(Redaction { path, reason }),
        }
    }

    fn take_releases(&self) -> Releases {
        match self.releases.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    pub(crate) async fn cached_access(&self, student: Uuid) -> Option<Arc<StudentAccess>> {
        self.access.lock().await.get(&student).cloned()
    }

    fn take_redactions(&self) -> Vec<Redaction> {
        match self.redactions.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

pub(crate) fn request_context<'a>(ctx: &Context<'a>) -> Result<&'a Arc<RequestContext>, AppError> {
    ctx.data::<Arc<RequestContext>>()
        .map_err(|e| AppError::internal("request context", e.message))
}

/// The guard at a field: the value, `null` with a redaction, or `null` with a
/// FORBIDDEN error at the field's path.
pub(crate) fn reveal<T>(
    ctx: &Context<'_>,
    guard: &Guard,
    class: FieldClass,
    value: impl FnOnce() -> Option<T>,
) -> async_graphql::Result<Option<T>> {
    let outcome = guard.mask.outcome(class);
    let bit = 1u64 << (class.index() * 3 + outcome_index(outcome));
    if guard.seen.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
        request_context(ctx)?.record(guard, class, outcome);
    }
    match outcome {
        Outcome::Allow => Ok(value()),
        Outcome::Redact(reason) => {
            request_context(ctx)?.redact(ctx, reason);
            Ok(None)
        }
        Outcome::Deny(reason) => Err(deny_error(reason)),
    }
}

fn deny_error(reason: Reason) -> async_graphql::Error {
    AppError::Forbidden("not permitted for this caller".to_owned())
        .extend()
        .extend_with(|_, e| e.set("reason", reason.as_str()))
}

/// Runs one request for one authenticated caller.
pub async fn execute(
    schema: &ConfideSchema,
    db: DatabaseConnection,
    policy: Arc<Policy>,
    caller: Caller,
    limits: Limits,
    report_cost: bool,
    request: Request,
) -> Response {
    let rc = Arc::new(RequestContext {
        db,
        decisions: Decisions::new(Arc::new(caller), policy),
        limits,
        redactions: Mutex::new(Vec::new()),
        access: tokio::sync::Mutex::new(HashMap::new()),
        releases: Mutex::new(HashMap::new()),
    });
    let statements = Arc::new(AtomicU64::new(0));
    // The audit write is part of the request (and of its statement count).
    let (mut response, audited) = db::counting_statements(statements.clone(), async {
        let response = schema.execute(request.data(rc.clone())).await;
        let audited = audit::record_request(&rc, rc.take_releases()).await;
        (response, audited)
    })
    .await;
    for err in &mut response.errors {
        crate::error::assign_code(err);
    }
    // No disclosure without its audit record: if the trail cannot be written,
    // nothing of this response is released.
    if let Err(e) = audited {
        tracing::error!(error = ?e, "audit write failed; withholding the response");
        let mut failed = Response::from_errors(vec![async_graphql::ServerError::new(
            "internal error",
            None,
        )]);
        for err in &mut failed.errors {
            err.extensions
                .get_or_insert_with(Default::default)
                .set("code", "INTERNAL");
        }
        return failed;
    }
    let mut redactions = rc.take_redactions();
    if !redactions.is_empty() {
        redactions.sort_by_key(|r| r.path.to_string());
        if let Ok(value) = async_graphql::Value::from_json(serde_json::json!(redactions)) {
            response.extensions.insert("redactions".to_owned(), value);
        }
    }
    if report_cost {
        let cost = serde_json::json!({
            "casbinEvaluations": rc.decisions.evaluations(),
            "sqlStatements": statements.load(std::sync::atomic::Ordering::Relaxed),
        });
        if let Ok(value) = async_graphql::Value::from_json(cost) {
            response.extensions.insert("cost".to_owned(), value);
        }
    }
    response
}
