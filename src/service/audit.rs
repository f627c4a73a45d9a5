//! The append-only audit trail: reads, redactions, denials and disclosures,
//! each record chained to the one before it by its hash.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::policy::ClassSet;
use entity::audit_event;
use migration::audit_chain::{Chained, GENESIS};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Where audit records come from: the request that wrote them and the policy
/// version it was decided by (none for the command line's own records).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin<'a> {
    pub request_id: Option<Uuid>,
    pub policy_version: Option<&'a str>,
}

impl From<Option<Uuid>> for Origin<'_> {
    /// A request (or none) whose policy version is not known here.
    fn from(request_id: Option<Uuid>) -> Self {
        Origin {
            request_id,
            policy_version: None,
        }
    }
}

/// One audit record to write.
#[derive(Clone, Debug)]
pub struct Event {
    pub student_id: Option<Uuid>,
    pub action: &'static str,
    pub fields: Vec<String>,
    pub outcome: &'static str,
    pub basis: Option<String>,
    pub detail: Option<String>,
}

pub fn class_names(classes: ClassSet) -> Vec<String> {
    classes.iter().map(|c| c.as_str().to_owned()).collect()
}

/// The kind of a basis (`role:…`, `consent:<id>`, …), which decides the lawful
/// basis recorded with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BasisKind {
    /// A member of staff acting in their role (and the CLI).
    Role,
    Consent,
    RiskException,
    /// An emergency disclosure or a break-glass read.
    Emergency,
    LegalAuthority,
    /// A subject access request: the export released to the student, and
    /// the request's own steps.
    SubjectAccess,
}

impl BasisKind {
    pub const ALL: [BasisKind; 6] = [
        BasisKind::Role,
        BasisKind::Consent,
        BasisKind::RiskException,
        BasisKind::Emergency,
        BasisKind::LegalAuthority,
        BasisKind::SubjectAccess,
    ];

    /// The kind of one basis, by its prefix (`None` for an unknown one).
    pub fn of(basis: &str) -> Option<BasisKind> {
        let prefix = basis.split(':').next().unwrap_or(basis);
        match prefix {
            "role" | "cli" => Some(BasisKind::Role),
            "consent" => Some(BasisKind::Consent),
            "risk_exception" => Some(BasisKind::RiskException),
            "emergency" | "emergency_access" => Some(BasisKind::Emergency),
            "legal_authority" => Some(BasisKind::LegalAuthority),
            "subject_access_request" => Some(BasisKind::SubjectAccess),
            _ => None,
        }
    }

    /// The kind's key in the `lawful_basis` table and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            BasisKind::Role => "role",
            BasisKind::Consent => "consent",
            BasisKind::RiskException => "risk_exception",
            BasisKind::Emergency => "emergency",
            BasisKind::LegalAuthority => "legal_authority",
            BasisKind::SubjectAccess => "subject_access_request",
        }
    }
}

/// The UK GDPR conditions each kind of basis rests on, as the DPO configured
/// them (table `lawful_basis`), read with the chain head by every audit write.
#[derive(Clone, Debug, Default)]
pub struct LawfulBases(Vec<(BasisKind, String)>);

impl LawfulBases {
    /// From `(kind, Art. 6 condition, Art. 9 condition)` rows.
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Self {
        let mut bases = LawfulBases::default();
        for (kind, article6, article9) in rows {
            bases.add(kind, article6, article9);
        }
        bases
    }

    /// Adds one kind's conditions; a kind this build does not know is ignored.
    fn add(&mut self, kind: &str, article6: &str, article9: &str) {
        if let Some(kind) = BasisKind::ALL.into_iter().find(|k| k.as_str() == kind) {
            self.0
                .push((kind, format!("UK GDPR {article6}; {article9}")));
        }
    }

    /// The lawful basis of a record's basis (several bases, comma-separated,
    /// give each distinct condition once, joined by " + "). A basis of a known
    /// kind with no configured condition fails closed: the record, and with it
    /// the request, is refused rather than written without its lawful basis.
    pub fn of(&self, basis: Option<&str>) -> AppResult<Option<String>> {
        let Some(basis) = basis else {
            return Ok(None);
        };
        let mut texts: Vec<&str> = Vec::new();
        for part in basis.split(',') {
            let Some(kind) = BasisKind::of(part.trim()) else {
                continue;
            };
            let text = self
                .0
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, text)| text.as_str())
                .ok_or_else(|| {
                    AppError::internal(
                        "audit lawful basis",
                        format!("no lawful basis is configured for kind {}", kind.as_str()),
                    )
                })?;
            if !texts.contains(&text) {
                texts.push(text);
            }
        }
        Ok((!texts.is_empty()).then(|| texts.join(" + ")))
    }
}

/// Rows per SQLite insert statement: well under its limit on bound
/// parameters (15 columns a row), so no read is refused for its size.
/// (PostgreSQL's insert binds one array per column, whatever the number.)
const ROWS_PER_STATEMENT: usize = 500;

/// The configured lawful bases as one text (PostgreSQL), read with the head
/// it was chained by: the batch writer's next append goes ahead only if it is
/// unchanged, so no record is chained by bases a DPO has since changed.
const PG_BASES_KEY: &str = "(SELECT coalesce(string_agg(b.kind || chr(31) || b.article6 \
     || chr(31) || b.article9, chr(30) ORDER BY b.kind), '') FROM lawful_basis b)";

/// The chain head as locked: the last link, the configured lawful bases, and
/// (PostgreSQL) those bases as one text, [`PG_BASES_KEY`].
struct Locked {
    head: Head,
    bases: LawfulBases,
    bases_key: Option<String>,
}

/// Locks the chain head (PostgreSQL: the row, until the transaction ends;
/// SQLite: writers are already serialised by the write transaction) and
/// returns the last position and hash, with the configured lawful bases (one
/// statement: the head joined with the configuration).
async fn lock_head(db: &impl ConnectionTrait) -> AppResult<Locked> {
    static PG_LOCK_HEAD: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT h.seq, h.hash, l.kind, l.article6, l.article9, {PG_BASES_KEY} AS bases_key \
             FROM audit_chain_head h LEFT JOIN lawful_basis l ON 1 = 1 WHERE h.id = $1 \
             FOR UPDATE OF h"
        )
    });
    let backend = db.get_database_backend();
    // The head's id is bound, not written into the text: sqlx keeps a
    // statement prepared on its connection only when it has bound values, so
    // a literal made SQLite prepare this statement again for every batch.
    let sql = match backend {
        DbBackend::Postgres => PG_LOCK_HEAD.as_str(),
        _ => {
            "SELECT h.seq, h.hash, l.kind, l.article6, l.article9 \
             FROM audit_chain_head h LEFT JOIN lawful_basis l ON 1 = 1 WHERE h.id = ?"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [1i32.into()]))
        .await?;
    let first = rows
        .first()
        .ok_or_else(|| AppError::internal("audit chain", "the chain head is missing"))?;
    let (seq, hash) = (first.try_get("", "seq")?, first.try_get("", "hash")?);
    let bases_key = match backend {
        DbBackend::Postgres => Some(first.try_get("", "bases_key")?),
        _ => None,
    };
    let mut bases = LawfulBases::default();
    for row in &rows {
        let kind: Option<String> = row.try_get("", "kind")?;
        if let Some(kind) = kind {
            let article6: String = row.try_get("", "article6")?;
            let article9: String = row.try_get("", "article9")?;
            bases.add(&kind, &article6, &article9);
        }
    }
    Ok(Locked {
        head: Head { seq, hash },
        bases,
        bases_key,
    })
}

/// Writes the events as the next links of the chain (one insert per 500
/// rows, plus reading and moving the chain head).
///
/// Must run inside a write transaction (the request's, or one the caller
/// began): the head stays locked from its read to its update, so concurrent
/// writers cannot fork the chain. (A writer that somehow read a stale head
/// fails on the unique `seq` index rather than forking it.)
#[tracing::instrument(name = "audit.write", skip_all, fields(events = events.len()))]
pub async fn write<'o>(
    db: &impl ConnectionTrait,
    caller: &Caller,
    origin: impl Into<Origin<'o>>,
    events: Vec<Event>,
) -> AppResult<()> {
    let origin = origin.into();
    if events.is_empty() {
        return Ok(());
    }
    let count = events.len();
    let written = write_chain(db, caller, origin, events).await;
    crate::telemetry::audit_write(written.is_ok(), count);
    written
}

async fn write_chain(
    db: &impl ConnectionTrait,
    caller: &Caller,
    origin: Origin<'_>,
    events: Vec<Event>,
) -> AppResult<()> {
    let Locked {
        mut head, bases, ..
    } = lock_head(db).await?;
    let rows = chain_rows(&mut head, &bases, caller, origin, events)?;
    insert_rows(db, rows).await?;
    move_head(db, head).await
}

/// The last link of the chain: its position and hash.
#[derive(Clone)]
struct Head {
    seq: i64,
    hash: String,
}

/// The events as the next links after `head`, which moves to the last of
/// them. On an error (an event whose basis has no configured lawful basis)
/// `head` is left where it was.
fn chain_rows(
    head: &mut Head,
    bases: &LawfulBases,
    caller: &Caller,
    origin: Origin<'_>,
    events: Vec<Event>,
) -> AppResult<Vec<audit_event::Model>> {
    let mut rows = records(caller, origin, events);
    link_rows(head, bases, &mut rows)?;
    Ok(rows)
}

/// The events as audit records, not yet links of the chain (no position,
/// lawful basis or hashes: [`link_rows`] gives them those).
fn records(caller: &Caller, origin: Origin<'_>, events: Vec<Event>) -> Vec<audit_event::Model> {
    // Stored to the microsecond on both databases, so the hash computed here
    // is the hash recomputed from what is read back.
    let now = chrono::Utc::now();
    let now = chrono::SubsecRound::trunc_subsecs(now, 6);
    let actor_role = caller.role.as_str();
    events
        .into_iter()
        .map(|e| audit_event::Model {
            // Time-ordered ids keep the append-only table's primary key index
            // appending at its right edge; the time they encode is `occurred_at`.
            id: Uuid::now_v7(),
            occurred_at: now,
            actor_id: caller.id,
            actor_role: actor_role.to_owned(),
            student_id: e.student_id,
            action: e.action.to_owned(),
            // The names moved into the JSON array, not copied.
            fields: serde_json::Value::Array(
                e.fields
                    .into_iter()
                    .map(serde_json::Value::String)
                    .collect(),
            ),
            outcome: e.outcome.to_owned(),
            basis: e.basis,
            detail: e.detail,
            request_id: origin.request_id,
            seq: None,
            prev_hash: None,
            hash: None,
            lawful_basis: None,
            policy_version: origin.policy_version.map(str::to_owned),
        })
        .collect()
}

/// What the hash of `row` covers, at position `seq` after `prev_hash`, with
/// `lawful_basis` (the one it is being chained by, or the one it holds).
fn chained<'a>(
    row: &'a audit_event::Model,
    seq: i64,
    lawful_basis: Option<&'a str>,
    prev_hash: &'a str,
) -> Chained<'a> {
    Chained {
        seq,
        id: row.id,
        occurred_at: row.occurred_at,
        actor_id: row.actor_id,
        actor_role: &row.actor_role,
        student_id: row.student_id,
        action: &row.action,
        fields: &row.fields,
        outcome: &row.outcome,
        basis: row.basis.as_deref(),
        detail: row.detail.as_deref(),
        request_id: row.request_id,
        lawful_basis,
        policy_version: row.policy_version.as_deref(),
        prev_hash,
    }
}

/// Makes `rows` the next links after `head` (each its position, lawful basis,
/// previous hash and hash; whatever they held before is replaced), and moves
/// `head` to the last. On an error (a record whose basis has no configured
/// lawful basis) `head` is left where it was.
fn link_rows(
    head: &mut Head,
    bases: &LawfulBases,
    rows: &mut [audit_event::Model],
) -> AppResult<()> {
    let (mut seq, mut prev) = (head.seq, head.hash.clone());
    for row in rows {
        seq += 1;
        let lawful = bases.of(row.basis.as_deref())?;
        let hash = chained(row, seq, lawful.as_deref(), &prev).hash();
        row.seq = Some(seq);
        row.lawful_basis = lawful;
        row.prev_hash = Some(std::mem::replace(&mut prev, hash.clone()));
        row.hash = Some(hash);
    }
    *head = Head { seq, hash: prev };
    Ok(())
}

/// PostgreSQL's insert: the rows as one array per column, unnested. The
/// statement has one text (one prepared statement) whatever the batch's
/// size, and the arrays travel in binary, so PostgreSQL parses no UUID or
/// timestamp from text: half its cost per row of the JSON parameter this
/// replaced (`json_populate_recordset`, BENCHMARKS.md run 25). sea-query
/// binds no array with a null element, so a nullable column's array holds a
/// placeholder where the row has null, and `nulls` says which (the bits of
/// [`null_bits`]); a placeholder is never stored.
const PG_INSERT: &str = "INSERT INTO audit_event (id, occurred_at, actor_id, actor_role, \
     student_id, action, fields, outcome, basis, detail, request_id, seq, prev_hash, hash, \
     lawful_basis, policy_version) \
     SELECT id, occurred_at, actor_id, actor_role, \
     CASE WHEN nulls & 1 = 0 THEN student_id END, action, fields::json, outcome, \
     CASE WHEN nulls & 2 = 0 THEN basis END, CASE WHEN nulls & 4 = 0 THEN detail END, \
     CASE WHEN nulls & 8 = 0 THEN request_id END, CASE WHEN nulls & 16 = 0 THEN seq END, \
     CASE WHEN nulls & 32 = 0 THEN prev_hash END, CASE WHEN nulls & 64 = 0 THEN hash END, \
     CASE WHEN nulls & 128 = 0 THEN lawful_basis END, \
     CASE WHEN nulls & 256 = 0 THEN policy_version END \
     FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::uuid[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::uuid[], $12::int8[], \
     $13::text[], $14::text[], $15::text[], $16::text[], $17::int4[]) \
     AS r(id, occurred_at, actor_id, actor_role, student_id, action, fields, outcome, basis, \
     detail, request_id, seq, prev_hash, hash, lawful_basis, policy_version, nulls)";

/// Which nullable columns of a row are null, as `PG_INSERT`'s `nulls` bits
/// (in this order: student_id, basis, detail, request_id, seq, prev_hash,
/// hash, lawful_basis, policy_version).
fn null_bits(row: &audit_event::Model) -> i32 {
    [
        row.student_id.is_none(),
        row.basis.is_none(),
        row.detail.is_none(),
        row.request_id.is_none(),
        row.seq.is_none(),
        row.prev_hash.is_none(),
        row.hash.is_none(),
        row.lawful_basis.is_none(),
        row.policy_version.is_none(),
    ]
    .into_iter()
    .enumerate()
    .fold(0, |bits, (i, null)| if null { bits | 1 << i } else { bits })
}

/// `PG_INSERT` with `rows` bound.
fn pg_insert(rows: &[audit_event::Model]) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        PG_INSERT,
        pg_columns(rows.len(), rows.iter()),
    )
}

/// The `n` rows as `PG_INSERT`'s 17 parameters: one array per column, and
/// the null bits.
fn pg_columns<'a>(n: usize, rows: impl Iterator<Item = &'a audit_event::Model>) -> Vec<Value> {
    let mut id = Vec::with_capacity(n);
    let mut occurred_at = Vec::with_capacity(n);
    let mut actor_id = Vec::with_capacity(n);
    let mut actor_role = Vec::with_capacity(n);
    let mut student_id = Vec::with_capacity(n);
    let mut action = Vec::with_capacity(n);
    let mut fields = Vec::with_capacity(n);
    let mut outcome = Vec::with_capacity(n);
    let mut basis = Vec::with_capacity(n);
    let mut detail = Vec::with_capacity(n);
    let mut request_id = Vec::with_capacity(n);
    let mut seq = Vec::with_capacity(n);
    let mut prev_hash = Vec::with_capacity(n);
    let mut hash = Vec::with_capacity(n);
    let mut lawful_basis = Vec::with_capacity(n);
    let mut policy_version = Vec::with_capacity(n);
    let mut nulls = Vec::with_capacity(n);
    // Copied, not moved: the batch writer keeps its rows until they are
    // committed, to chain them again if the head it chained them after moved.
    for r in rows {
        nulls.push(null_bits(r));
        id.push(r.id);
        occurred_at.push(r.occurred_at);
        actor_id.push(r.actor_id);
        actor_role.push(r.actor_role.clone());
        student_id.push(r.student_id.unwrap_or_default());
        action.push(r.action.clone());
        fields.push(r.fields.to_string());
        outcome.push(r.outcome.clone());
        basis.push(r.basis.clone().unwrap_or_default());
        detail.push(r.detail.clone().unwrap_or_default());
        request_id.push(r.request_id.unwrap_or_default());
        seq.push(r.seq.unwrap_or_default());
        prev_hash.push(r.prev_hash.clone().unwrap_or_default());
        hash.push(r.hash.clone().unwrap_or_default());
        lawful_basis.push(r.lawful_basis.clone().unwrap_or_default());
        policy_version.push(r.policy_version.clone().unwrap_or_default());
    }
    vec![
        id.into(),
        occurred_at.into(),
        actor_id.into(),
        actor_role.into(),
        student_id.into(),
        action.into(),
        fields.into(),
        outcome.into(),
        basis.into(),
        detail.into(),
        request_id.into(),
        seq.into(),
        prev_hash.into(),
        hash.into(),
        lawful_basis.into(),
        policy_version.into(),
        nulls.into(),
    ]
}

async fn insert_rows(db: &impl ConnectionTrait, rows: Vec<audit_event::Model>) -> AppResult<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        // One statement whatever the number: the rows travel as 17 arrays.
        db.execute_raw(pg_insert(&rows)).await?;
        return Ok(());
    }
    let mut rows = rows.into_iter();
    loop {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        // Every column set (`into_active_model` leaves them unchanged).
        let chunk = chunk.into_iter().map(|m| m.into_active_model().reset_all());
        audit_event::Entity::insert_many(chunk).exec(db).await?;
    }
}

async fn move_head(db: &impl ConnectionTrait, head: Head) -> AppResult<()> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        match backend {
            DbBackend::Postgres => "UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1",
            _ => "UPDATE audit_chain_head SET seq = ?, hash = ? WHERE id = 1",
        },
        [head.seq.into(), head.hash.into()],
    ))
    .await?;
    Ok(())
}

/// The audit records of requests that only read, written together: a request
/// hands its records to one writer task and waits for their commit, and the
/// writer appends every request waiting at that moment in one transaction
/// (one lock of the chain head, one commit). Under load this turns one
/// transaction per request (each holding the head locked through its commit,
/// so requests queued on it one by one) into one per batch; alone, a request
/// is written at once, with no added delay. Each request's records are its
/// own consecutive links, exactly as written alone; a request gets its answer
/// only once they are committed, and an error (fail closed) if not.
///
/// Requests that write keep writing their records in their own transaction,
/// with their writes.
#[derive(Clone, Default)]
pub struct AuditBatcher {
    sender: Arc<OnceLock<mpsc::UnboundedSender<Job>>>,
    /// The least time from one batch's commit to the next batch's start.
    commit_interval: Duration,
}

impl std::fmt::Debug for AuditBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditBatcher")
    }
}

struct Job {
    caller: Caller,
    request_id: Option<Uuid>,
    policy_version: Option<String>,
    events: Vec<Event>,
    done: oneshot::Sender<AppResult<()>>,
}

/// At most this many records in one batch (a request's own are never split).
const BATCH_EVENTS: usize = 2_000;

impl AuditBatcher {
    /// A batcher whose writer, after committing a batch, waits until
    /// `commit_interval` has passed before starting the next (gathering the
    /// requests that arrive meanwhile into it). A request that finds the
    /// writer idle for longer than that is written at once; under load,
    /// commits are at most one per interval. On SQLite every commit makes the
    /// other connections drop their page caches (WAL mode), so fewer, larger
    /// commits leave more reads served from cache (BENCHMARKS.md run 18).
    pub fn new(commit_interval: Duration) -> Self {
        AuditBatcher {
            sender: Arc::default(),
            commit_interval,
        }
    }

    /// Appends a read-only request's records with those of the requests
    /// waiting alongside it, and returns once they are committed.
    pub async fn write(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        origin: Origin<'_>,
        events: Vec<Event>,
    ) -> AppResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let sender = self.sender.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            start_writer(db.clone(), rx, self.commit_interval);
            tx
        });
        let (done, answer) = oneshot::channel();
        let job = Job {
            caller: caller.clone(),
            request_id: origin.request_id,
            policy_version: origin.policy_version.map(str::to_owned),
            events,
            done,
        };
        let started = std::time::Instant::now();
        sender
            .send(job)
            .map_err(|_| AppError::internal("audit write", "the audit writer has stopped"))?;
        let answer = answer
            .await
            .map_err(|_| AppError::internal("audit write", "the audit writer dropped a request"))?;
        crate::telemetry::audit_wait(started.elapsed().as_secs_f64());
        answer
    }
}

/// The writer runs on a thread of its own (its own single-threaded runtime):
/// on a request worker's runtime it waited its turn behind that worker's
/// requests, and every request waiting on it with it. It stops when the
/// server's batcher is dropped (the channel closes).
fn start_writer(
    db: DatabaseConnection,
    jobs: mpsc::UnboundedReceiver<Job>,
    commit_interval: Duration,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => {
            let spawned = std::thread::Builder::new()
                .name("audit-writer".to_owned())
                .spawn(move || runtime.block_on(run_batches(db, jobs, commit_interval)));
            if let Err(e) = spawned {
                // Without a writer every read fails closed (its sender errs).
                tracing::error!(error = %e, "the audit writer thread did not start");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "no runtime for the audit writer; it runs on the request's");
            tokio::spawn(run_batches(db, jobs, commit_interval));
        }
    }
}

async fn run_batches(
    db: DatabaseConnection,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    commit_interval: Duration,
) {
    let mut last_commit: Option<tokio::time::Instant> = None;
    let mut known = None;
    while let Some(first) = jobs.recv().await {
        if let Some(last) = last_commit.filter(|_| !commit_interval.is_zero()) {
            // Under load: wait out the interval, then take everything queued.
            tokio::time::sleep_until(last + commit_interval).await;
        }
        let mut events = first.events.len();
        let mut batch = vec![first];
        while events < BATCH_EVENTS {
            match jobs.try_recv() {
                Ok(job) => {
                    events += job.events.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let (started, requests) = (std::time::Instant::now(), batch.len());
        write_batch(&db, batch, &mut known).await;
        crate::telemetry::audit_batch(started.elapsed().as_secs_f64(), requests);
        last_commit = Some(tokio::time::Instant::now());
    }
}

/// What the batch writer knows of the chain after its last commit
/// (PostgreSQL): the head it moved the chain to, and the lawful bases it
/// chained by, with their text ([`PG_BASES_KEY`]).
struct Known {
    head: Head,
    bases: LawfulBases,
    bases_key: String,
}

/// One request's records in a batch, and where its answer goes.
struct Pending {
    done: oneshot::Sender<AppResult<()>>,
    count: usize,
    rows: Vec<audit_event::Model>,
}

/// PostgreSQL's append after a known head, in one statement (no transaction
/// of its own to begin, no head to read): the head moves from the known one
/// to the batch's last link only if it is still there and the lawful bases
/// are those the rows were chained by, and the rows are inserted only if it
/// moved. The update waits, as `lock_head` does, for a writer holding the
/// head; it takes the head before anything is inserted, as every writer
/// does, so writers cannot deadlock on the unique `seq` index.
static PG_APPEND: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH moved AS (UPDATE audit_chain_head SET seq = $18, hash = $19 \
         WHERE id = 1 AND seq = $20 AND hash = $21 AND {PG_BASES_KEY} = $22 RETURNING 1) \
         {PG_INSERT} WHERE EXISTS (SELECT 1 FROM moved)"
    )
});

/// Chains each request's rows after `head`, in turn. A request whose rows
/// cannot be chained (a basis without a configured lawful basis) is answered
/// with that error and leaves the batch.
fn link_batch(head: &mut Head, bases: &LawfulBases, pending: &mut Vec<Pending>) {
    let mut linked = Vec::with_capacity(pending.len());
    for mut p in pending.drain(..) {
        match link_rows(head, bases, &mut p.rows) {
            Ok(()) => linked.push(p),
            Err(e) => {
                crate::telemetry::audit_write(false, p.count);
                let _ = p.done.send(Err(e));
            }
        }
    }
    *pending = linked;
}

/// PostgreSQL: appends the batch after the head this writer last committed
/// ([`PG_APPEND`]): one round trip instead of five (begin, lock the head,
/// insert, move the head, commit), each of which waited for a core on a busy
/// machine while every request of the batch, and of the next, waited for it
/// (BENCHMARKS.md run 29). `Ok(None)`: the head had moved (another request's
/// write, another instance) or the bases had changed, and nothing was written.
async fn append_after(
    db: &DatabaseConnection,
    pending: &mut Vec<Pending>,
    known: Known,
) -> AppResult<Option<Known>> {
    let Known {
        head: prev,
        bases,
        bases_key,
    } = known;
    let mut head = prev.clone();
    link_batch(&mut head, &bases, pending);
    if pending.is_empty() {
        return Ok(Some(Known {
            head: prev,
            bases,
            bases_key,
        }));
    }
    let total: usize = pending.iter().map(|p| p.rows.len()).sum();
    let mut values = pg_columns(total, pending.iter().flat_map(|p| p.rows.iter()));
    values.extend([
        head.seq.into(),
        head.hash.clone().into(),
        prev.seq.into(),
        prev.hash.into(),
        bases_key.clone().into(),
    ]);
    let inserted = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            PG_APPEND.as_str(),
            values,
        ))
        .await?
        .rows_affected();
    match inserted {
        0 => Ok(None),
        n if n == total as u64 => Ok(Some(Known {
            head,
            bases,
            bases_key,
        })),
        n => Err(AppError::internal(
            "audit write",
            format!("the append inserted {n} of {total} records"),
        )),
    }
}

/// Appends the batch in a write transaction that locks the head and reads
/// the lawful bases first (each request's rows chained again after it,
/// whatever they were chained after before). Returns what the writer then
/// knows of the chain (PostgreSQL).
async fn append_locked(
    db: &DatabaseConnection,
    pending: &mut Vec<Pending>,
) -> AppResult<Option<Known>> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let txn = db.begin_with_options(options).await?;
    let Locked {
        mut head,
        bases,
        bases_key,
    } = lock_head(&txn).await?;
    link_batch(&mut head, &bases, pending);
    if !pending.is_empty() {
        let rows = pending
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.rows))
            .collect();
        insert_rows(&txn, rows).await?;
        move_head(&txn, head.clone()).await?;
    }
    txn.commit().await?;
    Ok(bases_key.map(|bases_key| Known {
        head,
        bases,
        bases_key,
    }))
}

#[tracing::instrument(name = "audit.write_batch", skip_all, fields(requests = batch.len()))]
async fn write_batch(db: &DatabaseConnection, batch: Vec<Job>, known: &mut Option<Known>) {
    let mut pending: Vec<Pending> = batch
        .into_iter()
        .map(|job| {
            let origin = Origin {
                request_id: job.request_id,
                policy_version: job.policy_version.as_deref(),
            };
            Pending {
                count: job.events.len(),
                rows: records(&job.caller, origin, job.events),
                done: job.done,
            }
        })
        .collect();
    let written = match known.take() {
        Some(k) => match append_after(db, &mut pending, k).await {
            Ok(None) => {
                crate::telemetry::audit_rechained();
                append_locked(db, &mut pending).await
            }
            done => done,
        },
        None => append_locked(db, &mut pending).await,
    };
    match written {
        Ok(now_known) => {
            *known = now_known;
            for p in pending {
                crate::telemetry::audit_write(true, p.count);
                let _ = p.done.send(Ok(()));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "audit batch not written");
            for p in pending {
                crate::telemetry::audit_write(false, p.count);
                let _ = p.done.send(Err(AppError::internal(
                    "audit write",
                    "the audit batch failed",
                )));
            }
        }
    }
}

/// What `confide audit verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Every record chained, every hash as recomputed, the head at the last.
    Verified { records: u64 },
    /// The first broken link.
    Broken(BrokenLink),
}

/// The first place where the chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLink {
    /// The position where the chain breaks (for a missing record, the
    /// position expected there).
    pub seq: i64,
    /// The record found there, if any.
    pub id: Option<Uuid>,
    pub problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The record's content no longer matches its hash.
    Edited,
    /// The record's `prev_hash` is not the hash of the record before it.
    PrevHashMismatch,
    /// No record at this position (deleted), the next found at `found`.
    Missing { found: i64 },
    /// The head names a later position or another hash than the last record
    /// (records deleted from the end, or the head edited).
    HeadMismatch { head_seq: i64 },
    /// A record with no position: written around the chain.
    Unchained,
}

impl std::fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = self
            .id
            .map(|id| id.to_string())
            .unwrap_or_else(|| "-".to_owned());
        match &self.problem {
            Problem::Edited => write!(
                f,
                "seq {} (id {id}): edited: its content does not match its hash",
                self.seq
            ),
            Problem::PrevHashMismatch => write!(
                f,
                "seq {} (id {id}): prev_hash is not the hash of the record before it",
                self.seq
            ),
            Problem::Missing { found } => write!(
                f,
                "seq {}: deleted or missing (the next record found is seq {found}, id {id})",
                self.seq
            ),
            Problem::HeadMismatch { head_seq } => write!(
                f,
                "seq {}: head mismatch: the chain head is at seq {head_seq} \
                 (records deleted from the end, or the head edited)",
                self.seq
            ),
            Problem::Unchained => write!(f, "id {id}: a record outside the chain (no seq)"),
        }
    }
}

/// Rows read per page while verifying.
const VERIFY_PAGE: u64 = 1000;

/// Walks the chain in `seq` order, recomputing every hash, and compares its
/// end with the head. Reports the first broken link.
pub async fn verify(db: &impl ConnectionTrait) -> AppResult<Verification> {
    if let Some(row) = audit_event::Entity::find()
        .filter(sea_orm::ColumnTrait::is_null(&audit_event::Column::Seq))
        .one(db)
        .await?
    {
        return Ok(Verification::Broken(BrokenLink {
            seq: 0,
            id: Some(row.id),
            problem: Problem::Unchained,
        }));
    }
    let (head_seq, head_hash) = read_head(db).await?;
    let mut expected: i64 = 1;
    let mut prev = GENESIS.to_owned();
    loop {
        let page = audit_event::Entity::find()
            .filter(sea_orm::ColumnTrait::gte(
                &audit_event::Column::Seq,
                expected,
            ))
            // Records chained after the head was read are left for next time.
            .filter(sea_orm::ColumnTrait::lte(
                &audit_event::Column::Seq,
                head_seq,
            ))
            .order_by_asc(audit_event::Column::Seq)
            .limit(VERIFY_PAGE)
            .all(db)
            .await?;
        let done = (page.len() as u64) < VERIFY_PAGE;
        for row in page {
            let seq = row.seq.unwrap_or_default();
            let broken = |problem| {
                Ok(Verification::Broken(BrokenLink {
                    seq: expected,
                    id: Some(row.id),
                    problem,
                }))
            };
            if seq != expected {
                return broken(Problem::Missing { found: seq });
            }
            if row.prev_hash.as_deref() != Some(prev.as_str()) {
                return broken(Problem::PrevHashMismatch);
            }
            let hash = chained(&row, seq, row.lawful_basis.as_deref(), &prev).hash();
            if row.hash.as_deref() != Some(hash.as_str()) {
                return broken(Problem::Edited);
            }
            prev = hash;
            expected += 1;
        }
        if done {
            break;
        }
    }
    let last = expected - 1;
    if head_seq != last || head_hash != prev {
        return Ok(Verification::Broken(BrokenLink {
            seq: last + 1,
            id: None,
            problem: Problem::HeadMismatch { head_seq },
        }));
    }
    Ok(Verification::Verified {
        records: u64::try_from(last).unwrap_or_default(),
    })
}

/// The head as it stands (no lock: verification only reads).
async fn read_head(db: &impl ConnectionTrait) -> AppResult<(i64, String)> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT seq, hash FROM audit_chain_head WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| AppError::internal("audit chain", "the chain head is missing"))?;
    Ok((row.try_get("", "seq")?, row.try_get("", "hash")?))
}

/// What the audit query asks for: every field narrows.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub student_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub outcome: Option<String>,
    /// A basis, or the start of one (`consent:`, `legal_authority:<id>`).
    pub basis: Option<String>,
    /// Records before this position in the chain (paging backwards).
    pub before_seq: Option<i64>,
}

/// The audit trail, newest first (at most `limit` records): the DPO sees all
/// of it; a service lead what the staff of their service did.
pub async fn query(
    db: &impl sea_orm::ConnectionTrait,
    decisions: &crate::policy::Decisions,
    filter: AuditFilter,
    limit: u64,
) -> AppResult<Vec<audit_event::Model>> {
    use crate::policy::{Action, Relation};
    decisions.authorize(Action::QueryAuditTrail, Relation::Any)?;
    match statement(decisions.caller(), filter, limit) {
        Some(q) => Ok(q.all(db).await?),
        None => Ok(Vec::new()),
    }
}

/// The statement [`query`] runs for `caller` once the policy has let them
/// query the audit trail, or `None` when they would see nothing. Public so
/// that a test can read its plan: each filter is served by an index in `seq`
/// order (migration 000120).
pub fn statement(
    caller: &crate::auth::Caller,
    filter: AuditFilter,
    limit: u64,
) -> Option<sea_orm::Select<audit_event::Entity>> {
    use crate::domain::Role;
    use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut q = audit_event::Entity::find();
    match caller.role {
        Role::Dpo => {}
        Role::ServiceLead => {
            let service = caller.service.clone()?;
            q = q.filter(
                Expr::col((audit_event::Entity, audit_event::Column::ActorId)).in_subquery(
                    Query::select()
                        .column(entity::staff::Column::Id)
                        .from(entity::staff::Entity)
                        .and_where(entity::staff::Column::Service.eq(service))
                        .to_owned(),
                ),
            );
        }
        // Any other role the policy were to let through sees nothing.
        Role::Student
        | Role::Practitioner
        | Role::Reception
        | Role::Analyst
        | Role::ItSupport
        | Role::Department
        | Role::UniversityService
        | Role::Partner
        | Role::Admin => return None,
    }
    if let Some(s) = filter.student_id {
        q = q.filter(audit_event::Column::StudentId.eq(s));
    }
    if let Some(a) = filter.actor_id {
        q = q.filter(audit_event::Column::ActorId.eq(a));
    }
    if let Some(from) = filter.from {
        q = q.filter(audit_event::Column::OccurredAt.gte(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(audit_event::Column::OccurredAt.lt(to));
    }
    if let Some(outcome) = filter.outcome {
        if outcome != "allow" {
            // The condition of the partial index of the records not allowed
            // (migration 000120), as a literal: a bound outcome alone does not
            // tell the planner that the index holds every record it wants.
            q = q.filter(
                Expr::col((audit_event::Entity, audit_event::Column::Outcome))
                    .ne(Expr::cust("'allow'")),
            );
        }
        q = q.filter(audit_event::Column::Outcome.eq(outcome));
    }
    if let Some(basis) = filter.basis {
        q = q.filter(
            audit_event::Column::Basis
                .like(LikeExpr::new(super::contains_pattern(&basis)).escape('\\')),
        );
    }
    if let Some(before) = filter.before_seq {
        q = q.filter(audit_event::Column::Seq.lt(before));
    }
    Some(q.order_by_desc(audit_event::Column::Seq).limit(limit))
}

#[cfg(test)]
mod tests {
    use super::LawfulBases;

    #[test]
    fn the_postgres_insert_marks_exactly_the_null_columns_of_a_row() {
        let mut row = entity::audit_event::Model {
            id: uuid::Uuid::nil(),
            occurred_at: chrono::Utc::now(),
            actor_id: uuid::Uuid::nil(),
            actor_role: "dpo".into(),
            student_id: None,
            action: "read".into(),
            fields: serde_json::json!([]),
            outcome: "allow".into(),
            basis: None,
            detail: None,
            request_id: None,
            seq: None,
            prev_hash: None,
            hash: None,
            lawful_basis: None,
            policy_version: None,
        };
        assert_eq!(super::null_bits(&row), 0b1_1111_1111);
        row.detail = Some(String::new());
        assert_eq!(super::null_bits(&row), 0b1_1111_1011);
        row.student_id = Some(uuid::Uuid::nil());
        row.basis = Some("role:dpo".into());
        row.request_id = Some(uuid::Uuid::nil());
        row.seq = Some(1);
        row.prev_hash = Some(String::new());
        row.hash = Some(String::new());
        row.lawful_basis = Some(String::new());
        row.policy_version = Some(String::new());
        assert_eq!(super::null_bits(&row), 0);
        // Each bit the statement tests is one the rows can set.
        for bit in 0..9 {
            assert!(super::PG_INSERT.contains(&format!("nulls & {} = 0", 1 << bit)));
        }
    }

    fn defaults() -> LawfulBases {
        LawfulBases::from_rows([
            (
                "role",
                "Art. 6(1)(e) public task",
                "Art. 9(2)(h) health or social care",
            ),
            (
                "consent",
                "Art. 6(1)(a) consent",
                "Art. 9(2)(a) explicit consent",
            ),
            (
                "risk_exception",
                "Art. 6(1)(d) vital interests",
                "Art. 9(2)(c) vital interests",
            ),
            (
                "emergency",
                "Art. 6(1)(d) vital interests",
                "Art. 9(2)(c) vital interests",
            ),
            (
                "legal_authority",
                "Art. 6(1)(c) legal obligation",
                "Art. 9(2)(f) legal claims",
            ),
        ])
    }

    #[test]
    fn several_bases_name_each_distinct_condition_once() {
        assert_eq!(
            defaults()
                .of(Some("consent:1,risk_exception:2,emergency:3"))
                .unwrap()
                .as_deref(),
            Some(
                "UK GDPR Art. 6(1)(a) consent; Art. 9(2)(a) explicit consent + \
                 UK GDPR Art. 6(1)(d) vital interests; Art. 9(2)(c) vital interests"
            )
        );
        assert_eq!(
            defaults().of(Some("cli")).unwrap().as_deref(),
            defaults().of(Some("role:dpo")).unwrap().as_deref()
        );
        assert_eq!(defaults().of(None).unwrap(), None);
        assert_eq!(defaults().of(Some("restriction:1")).unwrap(), None);
    }

    #[test]
    fn a_known_kind_without_a_configured_condition_fails_closed() {
        let partial =
            LawfulBases::from_rows([("role", "Art. 6(1)(e) public task", "Art. 9(2)(h) care")]);
        assert!(partial.of(Some("role:practitioner")).is_ok());
        assert!(partial.of(Some("role:practitioner,consent:1")).is_err());
    }
}
