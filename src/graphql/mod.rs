//! The GraphQL layer: a pure [`schema`] builder, and [`execute`], which runs one
//! request for one caller and adds `extensions.redactions` (and, when enabled,
//! `extensions.cost`).
//!
//! Every guarded field reads its outcome from the record's [`Mask`] through
//! [`reveal`]; no resolver decides access itself.
//!
//! A resolver of an object type served in lists (`SupportCase`, `Student`,
//! `Note`, `SubjectAccessRequest`) awaits a loader through `Box::pin`.
//! async-graphql boxes, for every field it resolves, a future as large as the
//! type's largest field resolver; one loader awaited inline (about 2 KB of
//! database state) made each of the ~1,450 fields of a dashboard page allocate
//! and move that much. Boxed, only the few fields that load pay it
//! (BENCHMARKS.md, run 22).

/// Runs a write in one transaction of a [`context::Writer`]: committed only if
/// it succeeds.
macro_rules! in_transaction {
    ($writer:expr, |$txn:ident| $body:expr) => {{
        let $txn = $writer.begin().await?;
        let mark = $writer.writes_mark();
        // An async block, so that `?` in the body lands here (and rolls back).
        let result: AppResult<_> = async { $body }.await;
        match result {
            Ok(value) => {
                $txn.commit().await.map_err(AppError::from)?;
                Ok::<_, AppError>(value)
            }
            Err(e) => {
                // Writes rolled back are not audited as taken.
                $writer.forget_writes_since(mark);
                if let Err(rollback) = $txn.rollback().await {
                    tracing::error!(error = %rollback, "rollback failed");
                }
                Err(e)
            }
        }
    }};
}

pub mod admission;
mod audit;
mod consent;
mod context;
pub mod cost;
mod directory;
mod disclosure;
mod emergency;
mod erasure;
mod inline;
mod lawful_basis;
mod legal;
mod me;
mod monitoring;
mod mutation;
mod node;
mod note;
pub mod operations;
mod pagination;
mod partner_feed;
mod query;
mod research;
mod retention;
mod rights;
mod risk_exception;
mod sar;
mod staff;
mod statistics;
mod student;
mod support_case;

use crate::auth::Caller;
use crate::db;
use crate::error::AppError;
use crate::policy::{Decisions, FieldClass, Guarded, Permit, Policy, Reason, Record, Revealed};
use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, MergedObject, Request, Response, Schema,
    SchemaBuilder,
};
use sea_orm::DatabaseConnection;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use uuid::Uuid;

pub use context::RequestContext;

/// The query root: one part per record type and workflow.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    query::CoreQuery,
    node::NodeQuery,
    me::MeQuery,
    statistics::StatisticsQuery,
    risk_exception::RiskExceptionQuery,
    disclosure::DisclosureQuery,
    disclosure::AccessLogQuery,
    audit::AuditQuery,
    lawful_basis::LawfulBasisQuery,
    partner_feed::PartnerFeedQuery,
    emergency::EmergencyQuery,
    emergency::EmergencyAccessQuery,
    retention::RetentionQuery,
    erasure::ErasureQuery,
    sar::SubjectAccessQuery,
    research::ResearchQuery,
    monitoring::MonitoringQuery,
    operations::OperationsQuery,
);

/// The mutation root.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    mutation::CoreMutation,
    consent::ConsentMutation,
    risk_exception::RiskExceptionMutation,
    disclosure::DisclosureMutation,
    staff::StaffMutation,
    directory::DirectoryMutation,
    emergency::EmergencyMutation,
    emergency::EmergencyAccessMutation,
    legal::LegalAuthorityMutation,
    rights::RightsMutation,
    lawful_basis::LawfulBasisMutation,
    retention::RetentionMutation,
    erasure::ErasureMutation,
    sar::SubjectAccessMutation,
);

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

/// The schema builder, with a span per root field when `traced` (spans exported).
/// The only extension Confide installs: `inline` resolves the fields of list-served
/// objects without extensions' per-field hooks, so an extension that needs
/// them must not be added here without making that path fall back.
pub fn schema_builder_traced(
    traced: bool,
) -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    let builder = schema_builder();
    if traced {
        builder.extension(crate::telemetry::RootFieldSpans)
    } else {
        builder
    }
}

/// [`schema`], with a span per root field when `traced`.
pub fn schema_traced(traced: bool) -> ConfideSchema {
    schema_builder_traced(traced).finish()
}

/// Limits of one request's lists.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The Student Support services cases can be opened in.
    pub services: Arc<Vec<String>>,
    /// Longest a break-glass read may last, in minutes.
    pub break_glass_max_minutes: i64,
    /// Working days within which an emergency disclosure must be reviewed.
    pub emergency_review_working_days: u32,
    /// How far behind the clock the partner feed stops, so every write stamped
    /// before its watermark has committed.
    pub feed_settle: chrono::Duration,
    pub max_page_size: u32,
    /// What one request may cost, checked before it is executed.
    pub cost: cost::CostLimits,
    /// Longest a risk exception may last, in hours.
    pub risk_exception_max_hours: i64,
    /// Disclosure control of statistics.
    pub statistics: Arc<crate::statistics::StatisticsLimits>,
    /// The statistics population last read (shared by the server's requests).
    pub population: crate::statistics::population::PopulationCache,
    /// Writes the audit records of read-only requests in batches (one per server).
    pub audit: crate::service::audit::AuditBatcher,
    /// The in-flight cost budget requests are admitted under (one per server).
    pub admission: admission::Admission,
    /// The research extract's k and pseudonym key.
    pub research: crate::research::Config,
    /// SQLite: how many requests may hold a write transaction at once.
    pub writers: crate::db::WriterLicences,
}

pub(crate) fn request_context<'a>(ctx: &Context<'a>) -> Result<&'a Arc<RequestContext>, AppError> {
    ctx.data::<Arc<RequestContext>>()
        .map_err(|e| AppError::internal("request context", e.message))
}

/// A decision at a field, as GraphQL shows it: the value; `null` with a
/// redaction in `extensions.redactions`; or `null` with a FORBIDDEN error at the
/// field's path. A denial never fails the resolver, so it never nulls a parent
/// object nor drops the field from `data`.
pub(crate) fn shown<T>(
    ctx: &Context<'_>,
    revealed: Revealed<T>,
) -> async_graphql::Result<Option<T>> {
    match revealed {
        Revealed::Value(v) => Ok(v),
        Revealed::Redacted(reason) => {
            request_context(ctx)?.redact(ctx, reason);
            Ok(None)
        }
        Revealed::Denied(reason) => {
            let error = deny_error(reason).into_server_error(ctx.item.pos);
            ctx.add_error(ctx.set_error_path(error));
            Ok(None)
        }
    }
}

/// One guarded field of a record: its class decides, then `read` reads it.
pub(crate) fn reveal<'s, M: Record, T>(
    ctx: &Context<'_>,
    record: &'s Guarded<M>,
    class: FieldClass,
    read: impl FnOnce(&'s M) -> Option<T>,
) -> async_graphql::Result<Option<T>> {
    let rc = request_context(ctx)?;
    shown(ctx, record.reveal(&rc.ledger, class, read))
}

/// The permit to load children of class `class` of a record; `None` (with the
/// redaction or denial shown at this field) when not allowed.
pub(crate) fn permit<'g, M: Record>(
    ctx: &Context<'_>,
    record: &'g Guarded<M>,
    class: FieldClass,
) -> async_graphql::Result<Option<Permit<'g, M>>> {
    let rc = request_context(ctx)?;
    shown(ctx, record.permit(&rc.ledger, class))
}

fn deny_error(reason: Reason) -> async_graphql::Error {
    AppError::Forbidden("not permitted for this caller".to_owned())
        .extend()
        .extend_with(|_, e| e.set("reason", reason.as_str()))
}

/// Where an error has a path into `data` but the field is missing (async-graphql
/// drops a failed field instead of setting it to null, and turns an object whose
/// fields all failed into null), sets that field to `null`, so a failed field is
/// always present as `null` and never takes its parent with it.
fn null_at_error_paths(response: &mut Response) {
    use async_graphql::{Name, PathSegment, Value};
    fn walk<'v>(node: &'v mut Value, path: &[PathSegment]) -> Option<&'v mut Value> {
        let Some((first, rest)) = path.split_first() else {
            return Some(node);
        };
        let next = match (first, node) {
            (PathSegment::Field(name), Value::Object(map)) => map.get_mut(name.as_str())?,
            (PathSegment::Index(i), Value::List(items)) => items.get_mut(*i)?,
            _ => return None,
        };
        walk(next, rest)
    }
    for err in &response.errors {
        let Some((PathSegment::Field(key), parents)) = err.path.split_last() else {
            continue;
        };
        if parents.is_empty() && matches!(response.data, Value::Null) {
            response.data = Value::Object(Default::default());
        }
        if let Some(Value::Object(map)) = walk(&mut response.data, parents) {
            map.entry(Name::new(key)).or_insert(Value::Null);
        }
    }
}

/// A request's answer, its data already serialised: the data is written out
/// as soon as it has been resolved, while the values are fresh in the cache,
/// and the value tree is freed before the request waits for its audit
/// records' commit (a dashboard page is ~2,000 values and ~3,000
/// allocations, held through that wait and read back cold afterwards).
#[derive(Debug)]
pub struct Answer {
    /// The errors and extensions; its `data` is always null (see `data`).
    pub response: Response,
    /// The data, as the JSON text it is sent as.
    pub data: Box<serde_json::value::RawValue>,
}

impl Answer {
    /// An answer with no data (refusals, and answers withheld).
    fn without_data(response: Response) -> Self {
        Answer {
            response,
            data: serde_json::value::RawValue::NULL.to_owned(),
        }
    }

    /// An answer with no data and `err` as its one error.
    fn refused(err: &AppError) -> Self {
        Answer::without_data(Response::from_errors(vec![crate::error::server_error(err)]))
    }

    /// The body sent over HTTP: `data`, then `extensions` and `errors` when
    /// there are any (async-graphql's own form).
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            data: &'a serde_json::value::RawValue,
            #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
            extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            errors: &'a [async_graphql::ServerError],
        }
        serde_json::to_vec(&Body {
            data: &self.data,
            extensions: &self.response.extensions,
            errors: &self.response.errors,
        })
    }

    /// The answer as async-graphql's response, its data parsed back (for
    /// in-process callers; the server sends [`Answer::to_json`]).
    pub fn into_response(self) -> Response {
        let mut response = self.response;
        response.data = serde_json::from_str::<serde_json::Value>(self.data.get())
            .ok()
            .and_then(|json| async_graphql::Value::from_json(json).ok())
            .unwrap_or_default();
        response
    }
}

/// Runs one request for one authenticated caller, every decision by `policy`
/// (one version: its name is in `extensions.policyVersion`).
#[allow(clippy::too_many_arguments)] // each is one independent input of a request
pub async fn execute(
    schema: &ConfideSchema,
    db: DatabaseConnection,
    policy: Arc<Policy>,
    caller: Caller,
    limits: Limits,
    report_cost: bool,
    request_id: Uuid,
    request: Request,
) -> Response {
    let mut operation = None;
    execute_named(
        schema,
        db,
        policy,
        caller,
        limits,
        report_cost,
        request_id,
        request,
        &mut operation,
    )
    .await
    .into_response()
}

/// [`execute`], answered with its data serialised, also setting `operation`
/// to the operation's name: the request's `operationName`, else the name of
/// the document's one operation (for the request metrics; the document is
/// parsed once).
#[allow(clippy::too_many_arguments)] // each is one independent input of a request
pub async fn execute_named(
    schema: &ConfideSchema,
    db: DatabaseConnection,
    policy: Arc<Policy>,
    caller: Caller,
    limits: Limits,
    report_cost: bool,
    request_id: Uuid,
    request: Request,
    operation: &mut Option<String>,
) -> Answer {
    let version = async_graphql::Value::String(policy.version().to_owned());
    let mut answer = execute_inner(
        schema,
        db,
        policy,
        caller,
        limits,
        report_cost,
        request_id,
        request,
        operation,
    )
    .await;
    answer
        .response
        .extensions
        .insert("policyVersion".to_owned(), version);
    answer
}

/// The answer to a request refused by its cost, before anything runs (counted).
fn too_costly(refused: cost::TooCostly) -> Response {
    crate::telemetry::cost_refused(refused.what);
    Response::from_errors(vec![crate::error::server_error(&AppError::TooCostly {
        what: refused.what,
        cost: refused.cost,
        limit: refused.limit,
    })])
}

/// [`execute_named`] without the policy version (added to every answer,
/// early refusals included, by its caller).
#[allow(clippy::too_many_arguments)]
async fn execute_inner(
    schema: &ConfideSchema,
    db: DatabaseConnection,
    policy: Arc<Policy>,
    caller: Caller,
    limits: Limits,
    report_cost: bool,
    request_id: Uuid,
    mut request: Request,
    operation: &mut Option<String>,
) -> Answer {
    operation.clone_from(&request.operation_name);
    // The cost of the request, computed before anything runs (and before
    // async-graphql's validation, which expands fragments without memoising).
    if let Err(refused) = cost::check_size(&request.query, limits.cost) {
        return Answer::without_data(too_costly(refused));
    }
    // A document that does not parse costs 1 (execution reports the error).
    let mut estimated = 1;
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        let searches = request.query.matches("noteContains").count()
            + serde_json::to_string(&request.variables)
                .map(|v| v.matches("noteContains").count())
                .unwrap_or(0);
        let checked = cost::check(
            &doc,
            request.operation_name.as_deref(),
            &request.variables,
            searches,
            limits.cost,
        );
        match checked {
            Ok(cost) => estimated = cost,
            Err(refused) => {
                tracing::info!(
                    what = refused.what,
                    cost = refused.cost,
                    limit = refused.limit,
                    "refused a costly request"
                );
                return Answer::without_data(too_costly(refused));
            }
        }
        if operation.is_none() {
            if let async_graphql::parser::types::DocumentOperations::Multiple(ops) = &doc.operations
            {
                if ops.len() == 1 {
                    *operation = ops.keys().next().map(|name| name.to_string());
                }
            }
        }
        request.set_parsed_query(doc);
    }
    // Held while the request executes; given back by `finish` (for a
    // read-only request, before it waits for its audit records' commit).
    let admitted = match limits.admission.admit(estimated).await {
        Ok(admitted) => admitted,
        Err(busy) => return Answer::refused(&busy),
    };
    let rc = Arc::new(RequestContext::new(
        db,
        Decisions::new(Arc::new(caller), policy).for_request(request_id),
        limits,
        request_id,
    ));
    let statements = Arc::new(AtomicU64::new(0));
    // The audit write (and, for a request that wrote, the commit of its writes
    // with their audit records) is part of the request and of its statement count.
    let (mut response, data, finished) = db::counting_statements(statements.clone(), async {
        let mut response = schema.execute(request.data(rc.clone())).await;
        for err in &mut response.errors {
            crate::error::assign_code(err);
        }
        null_at_error_paths(&mut response);
        // Written out now, and the tree freed, before the audit wait.
        let data = serde_json::value::to_raw_value(&std::mem::take(&mut response.data));
        let finished = match Arc::try_unwrap(rc) {
            Ok(rc) => rc.finish(admitted).await,
            Err(_) => Err(AppError::internal(
                "request",
                "the request context outlived its execution",
            )),
        };
        (response, data, finished)
    })
    .await;
    // No disclosure without its audit record, and no write without it: if the
    // trail cannot be written (or the writes with it cannot be committed),
    // nothing of this response is released and nothing was stored.
    let finished = match finished {
        Ok(finished) => finished,
        Err(e) => {
            tracing::error!(error = ?e, "audit write or commit failed; withholding the response");
            crate::telemetry::audit_withheld();
            return Answer::refused(&AppError::internal(
                "audit",
                "the audit trail could not be written",
            ));
        }
    };
    let data = match data {
        Ok(data) => data,
        Err(e) => {
            tracing::error!(error = %e, "the response's data could not be serialised");
            return Answer::refused(&AppError::internal(
                "response",
                "the response could not be serialised",
            ));
        }
    };
    if !finished.emergency_access.is_empty() {
        // The caller is told they read under emergency access.
        let grants: Vec<serde_json::Value> = finished
            .emergency_access
            .iter()
            .map(|g| serde_json::json!({ "id": g.id, "caseId": g.case_id, "expiresAt": g.expires_at }))
            .collect();
        if let Ok(value) = async_graphql::Value::from_json(serde_json::json!(grants)) {
            response
                .extensions
                .insert("emergencyAccess".to_owned(), value);
        }
    }
    let mut redactions = finished.redactions;
    if !redactions.is_empty() {
        redactions.sort_by_key(|r| r.path.to_string());
        if let Ok(value) = async_graphql::Value::from_json(serde_json::json!(redactions)) {
            response.extensions.insert("redactions".to_owned(), value);
        }
    }
    if report_cost {
        let cost = serde_json::json!({
            "casbinEvaluations": finished.evaluations,
            "sqlStatements": statements.load(std::sync::atomic::Ordering::Relaxed),
        });
        if let Ok(value) = async_graphql::Value::from_json(cost) {
            response.extensions.insert("cost".to_owned(), value);
        }
    }
    Answer { response, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Name, ServerError, Value};

    fn data() -> Value {
        let mut case = async_graphql::indexmap::IndexMap::new();
        case.insert(Name::new("id"), Value::String("c1".to_owned()));
        case.insert(Name::new("summary"), Value::Null);
        case.insert(
            Name::new("labels"),
            Value::List(vec![Value::String("a \"quoted\" é".to_owned())]),
        );
        let mut root = async_graphql::indexmap::IndexMap::new();
        root.insert(Name::new("supportCase"), Value::Object(case));
        Value::Object(root)
    }

    /// The body the server sends is async-graphql's own serialisation of
    /// the same response, byte for byte, with and without errors and
    /// extensions.
    #[test]
    fn an_answer_is_sent_as_async_graphql_would_send_its_response() {
        let mut with_all = Response::new(data());
        with_all.errors.push(ServerError::new("refused", None));
        with_all
            .extensions
            .insert("policyVersion".to_owned(), Value::String("v1".to_owned()));
        for response in [Response::new(data()), with_all, Response::default()] {
            let expected = serde_json::to_vec(&response).unwrap();
            let mut without = Response::default();
            without.errors = response.errors.clone();
            without.extensions = response.extensions.clone();
            let answer = Answer {
                response: without,
                data: serde_json::value::to_raw_value(&response.data).unwrap(),
            };
            assert_eq!(
                String::from_utf8(answer.to_json().unwrap()).unwrap(),
                String::from_utf8(expected).unwrap()
            );
            assert_eq!(answer.into_response(), response);
        }
    }
}
