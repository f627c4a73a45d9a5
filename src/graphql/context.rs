//! One request's context: the caller's decisions, the audit ledger, and the
//! database. Resolvers never hold the database handle (it is private to this
//! module): they read through the scoped readers here, which apply the row
//! scope and return [`Guarded`] records, and child loaders take a [`Permit`]
//! that only an allowed decision on the parent gives.

use super::admission::Admitted;
use super::pagination::{self, PageInfo};
use super::Limits;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::policy::access::{self, consent_in_force, StudentAccess};
use crate::policy::facts::{
    self, case_facts, listed_once_informed, note_facts, note_listed, student_facts, Facts,
};
use crate::policy::{Action, Decisions, Guarded, Ledger, Permit, Reason, Relation};
use crate::service::cases::{CaseFilter, CaseOrder, CaseRow};
use crate::service::partner_feed as feed;
use crate::service::students::{StudentFilter, StudentOrder};
use crate::service::{self, Page};
use async_graphql::Context;
use chrono::{DateTime, Utc};
use entity::{
    audit_event, consent, enrolment, note, risk_exception, staff, student, support_case,
    third_party_entry,
};
use sea_orm::{
    DatabaseConnection, DatabaseExecutor, DatabaseTransaction, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use tokio::sync::OnceCell;
use uuid::Uuid;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Redaction {
    pub path: serde_json::Value,
    pub reason: Reason,
}

/// Everything one request's resolvers share.
pub struct RequestContext {
    db: DatabaseConnection,
    /// The request's write transaction, begun by its first write, or by its
    /// audit write if it only read (as a writer on SQLite: `BEGIN IMMEDIATE`;
    /// the audit records extend the hash chain, whose head it keeps locked).
    /// Every read after it, the mutation results and the request's audit
    /// records go through it, and it commits only after the audit records are
    /// written: a write is stored with its audit record or not at all.
    txn: OnceCell<WriteTxn>,
    pub decisions: Decisions,
    pub ledger: Ledger,
    pub limits: Limits,
    /// The request's id: in its tracing span, its response and its audit records.
    pub request_id: Uuid,
    redactions: Mutex<Vec<Redaction>>,
    /// Outside callers: consent and exception state per student, loaded once per request.
    access: tokio::sync::Mutex<HashMap<Uuid, Arc<StudentAccess>>>,
    /// The caller's active break-glass grants by case, loaded on first need.
    grants: OnceCell<HashMap<Uuid, entity::emergency_access::Model>>,
    /// Grants this request read under (for the audit basis and the extension).
    used_grants: Mutex<HashMap<Uuid, entity::emergency_access::Model>>,
    /// Held while a statistics table, monitoring view or research extract is
    /// computed and recorded: root fields resolve concurrently, and each must
    /// see the ledger rows of the ones before it (and nest its savepoint
    /// inside no other).
    scans: tokio::sync::Mutex<()>,
}

/// The request's write transaction and the licence it holds its connection
/// under (SQLite: see [`crate::db::WriterLicences`]).
struct WriteTxn {
    txn: DatabaseTransaction,
    _licence: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// What a finished request hands back to the response.
pub struct Finished {
    pub redactions: Vec<Redaction>,
    pub evaluations: u64,
    /// Break-glass grants the request read under: shown to the caller.
    pub emergency_access: Vec<entity::emergency_access::Model>,
}

/// A page of records, with the cursor of each.
pub struct Paged<T> {
    pub edges: Vec<(String, T)>,
    pub page_info: PageInfo,
}

/// A guarded student and the group it was read with (its children are loaded
/// for the whole group at once).
pub struct StudentRecord {
    pub record: Guarded<student::Model>,
    pub group: Arc<StudentGroup>,
}

/// One entry of the partner feed: its position (for the cursor: rows exist
/// only for a caller allowed FEED_ENTRIES), the guarded entry, and the student
/// as the caller may read them now.
pub struct FeedRow {
    pub position: feed::Position,
    /// An entry with nothing to say, left out of the page.
    pub empty: bool,
    pub entry: Guarded<feed::Entry>,
    pub student: Option<StudentRecord>,
}

/// A guarded case and the group it was read with.
pub struct CaseRecord {
    pub record: Guarded<support_case::Model>,
    pub group: Arc<CaseGroup>,
}

type ByParent<T> = HashMap<Uuid, Vec<Arc<T>>>;

fn arc_lists<T>(map: HashMap<Uuid, Vec<T>>) -> ByParent<T> {
    map.into_iter()
        .map(|(k, rows)| (k, rows.into_iter().map(Arc::new).collect()))
        .collect()
}

/// Students read together: their children are loaded for all of them in one
/// statement, the first time any of them asks.
pub struct StudentGroup {
    students: HashMap<Uuid, Arc<student::Model>>,
    enrolments: OnceCell<ByParent<enrolment::Model>>,
    cases: OnceCell<(ByParent<support_case::Model>, Arc<CaseGroup>)>,
    consents: OnceCell<ByParent<consent::Model>>,
    exceptions: OnceCell<ByParent<risk_exception::Model>>,
}

impl StudentGroup {
    fn new(students: impl IntoIterator<Item = Arc<student::Model>>) -> Arc<Self> {
        Arc::new(StudentGroup {
            students: students.into_iter().map(|s| (s.id, s)).collect(),
            enrolments: OnceCell::new(),
            cases: OnceCell::new(),
            consents: OnceCell::new(),
            exceptions: OnceCell::new(),
        })
    }

    fn ids(&self) -> Vec<Uuid> {
        self.students.keys().copied().collect()
    }
}

/// Cases read together: notes, entries and staff are loaded for all of them in
/// one statement each, the first time any case asks.
pub struct CaseGroup {
    cases: HashMap<Uuid, Arc<support_case::Model>>,
    students: HashMap<Uuid, Arc<student::Model>>,
    /// The students' group these cases were read from, if they were. Weak:
    /// that group owns this one (its `cases`), and a strong reference back
    /// made a cycle that leaked both groups, with every student, case and
    /// note they had loaded, on every request reading a student's cases
    /// (about 1.4 MB per partner feed page: BENCHMARKS.md run 16).
    parent: Option<Weak<StudentGroup>>,
    /// A group made for these cases' students when they were not read from
    /// one (owned here: it is this group's child).
    student_group: OnceLock<Arc<StudentGroup>>,
    notes: OnceCell<ByParent<note::Model>>,
    note_authors: OnceCell<HashMap<Uuid, Arc<staff::Model>>>,
    assignees: OnceCell<HashMap<Uuid, Arc<staff::Model>>>,
    third_party: OnceCell<ByParent<third_party_entry::Model>>,
}

impl CaseGroup {
    fn new(
        cases: &[Arc<support_case::Model>],
        students: HashMap<Uuid, Arc<student::Model>>,
        parent: Option<&Arc<StudentGroup>>,
    ) -> Arc<Self> {
        Arc::new(CaseGroup {
            cases: cases.iter().map(|c| (c.id, c.clone())).collect(),
            students,
            parent: parent.map(Arc::downgrade),
            student_group: OnceLock::new(),
            notes: OnceCell::new(),
            note_authors: OnceCell::new(),
            assignees: OnceCell::new(),
            third_party: OnceCell::new(),
        })
    }

    fn ids(&self) -> Vec<Uuid> {
        self.cases.keys().copied().collect()
    }

    fn student_of(&self, case_id: Uuid) -> Option<Uuid> {
        self.cases.get(&case_id).map(|c| c.student_id)
    }
}

/// A write: the caller's role may take the action (checked before anything is
/// read), and the transaction it runs in.
pub struct Writer<'a> {
    rc: &'a RequestContext,
}

impl Writer<'_> {
    /// A transaction for this write, nested in the request's write transaction
    /// (a savepoint): rolled back alone if the write fails.
    pub async fn begin(&self) -> AppResult<DatabaseTransaction> {
        Ok(self.rc.write_txn().await?.begin().await?)
    }

    pub fn writes_mark(&self) -> usize {
        self.rc.decisions.writes_mark()
    }

    pub fn forget_writes_since(&self, mark: usize) {
        self.rc.decisions.forget_writes_since(mark)
    }
}

impl RequestContext {
    pub fn new(
        db: DatabaseConnection,
        decisions: Decisions,
        limits: Limits,
        request_id: Uuid,
    ) -> Self {
        RequestContext {
            db,
            txn: OnceCell::new(),
            decisions,
            ledger: Ledger::default(),
            limits,
            request_id,
            redactions: Mutex::new(Vec::new()),
            access: tokio::sync::Mutex::new(HashMap::new()),
            grants: OnceCell::new(),
            used_grants: Mutex::new(HashMap::new()),
            scans: tokio::sync::Mutex::new(()),
        }
    }

    pub fn caller(&self) -> &Caller {
        self.decisions.caller()
    }

    /// One population scan (statistics, monitoring, research extract) of this
    /// request at a time: see `scans`.
    pub async fn one_scan_at_a_time(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.scans.lock().await
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.decisions.now()
    }

    /// A write for `action`: refused (FORBIDDEN) before any input is read when
    /// no relation lets the caller's role take it.
    pub fn writer(&self, action: Action) -> AppResult<Writer<'_>> {
        self.decisions.may(action)?;
        Ok(Writer { rc: self })
    }

    /// The request's write transaction, begun on first need (as a writer on
    /// SQLite: `BEGIN IMMEDIATE`).
    async fn write_txn(&self) -> AppResult<&DatabaseTransaction> {
        let write = self
            .txn
            .get_or_try_init(|| async {
                // Before the connection, and held with it.
                let licence = self.limits.writers.take().await;
                let options = TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                };
                let txn = self.db.begin_with_options(options).await?;
                Ok::<_, AppError>(WriteTxn {
                    txn,
                    _licence: licence,
                })
            })
            .await?;
        Ok(&write.txn)
    }

    /// Where reads go: the request's write transaction once there is one (so a
    /// mutation's result sees its write), else the pool.
    fn conn(&self) -> DatabaseExecutor<'_> {
        match self.txn.get() {
            Some(write) => DatabaseExecutor::Transaction(&write.txn),
            None => DatabaseExecutor::Connection(&self.db),
        }
    }

    /// A route to records (lists, lookups, logs) that the role must be allowed.
    pub fn route(&self, action: Action) -> AppResult<()> {
        self.decisions.may(action)
    }

    // ----- Redactions and the audit trail -------------------------------------

    pub fn redact(&self, ctx: &Context<'_>, reason: Reason) {
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

    pub fn take_redactions(&self) -> Vec<Redaction> {
        match self.redactions.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// Writes the audit records of everything this request decided and, for a
    /// request that wrote, commits its write transaction with them: the records
    /// and the writes are stored together or not at all.
    ///
    /// A read-only request trades its share of the in-flight budget
    /// (`admitted`) for the same share of the budget for requests waiting on
    /// their audit commit before it waits for that commit: it no longer holds
    /// what it read, only its answer and its records, and the commit waits on
    /// the audit writer's turn, not on the cores (BENCHMARKS.md run 23). A
    /// request that wrote holds its share until its commit.
    pub async fn finish(self, admitted: Admitted) -> AppResult<Finished> {
        let releases = self.ledger.take();
        let writes = self.decisions.take_writes();
        let access = self.access.lock().await.clone();
        let used = match self.used_grants.lock() {
            Ok(mut u) => std::mem::take(&mut *u),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        let grants: HashMap<Uuid, Uuid> = used.iter().map(|(case, g)| (*case, g.id)).collect();
        let read_only = writes.is_empty() && self.txn.get().is_none();
        let events =
            super::audit::request_events(self.caller(), &access, &grants, releases, writes);
        // Neither the audit write nor the commit decides or redacts anything.
        let finished = Finished {
            redactions: self.take_redactions(),
            evaluations: self.decisions.evaluations(),
            emergency_access: used.into_values().collect(),
        };
        let policy_version = self.decisions.policy_version().to_owned();
        let origin = crate::service::audit::Origin {
            request_id: Some(self.request_id),
            policy_version: Some(&policy_version),
        };
        if read_only {
            // Written with the records of the requests finishing alongside
            // it, in one transaction, before this request answers.
            let audit = self.limits.audit.clone();
            let db = self.db.clone();
            let caller = self.caller().clone();
            drop(self);
            let awaiting = admitted.await_audit().await;
            audit.write(&db, &caller, origin, events).await?;
            drop(awaiting);
            return Ok(finished);
        }
        if !events.is_empty() {
            // With the request's writes: the records extend the hash chain,
            // whose head stays locked until they commit together.
            let txn = self.write_txn().await?;
            crate::service::audit::write(txn, self.caller(), origin, events).await?;
        }
        if let Some(write) = self.txn.into_inner() {
            write.txn.commit().await?;
        }
        drop(admitted);
        Ok(finished)
    }

    /// The caller's active break-glass grant for a case, if any (recorded as
    /// used by this request).
    async fn grant_for(&self, case_id: Uuid) -> AppResult<Option<entity::emergency_access::Model>> {
        if !self.caller().role.holds_cases() {
            return Ok(None);
        }
        let grants = self
            .grants
            .get_or_try_init(|| async {
                service::emergency_access::active_for(&self.conn(), self.caller().id, self.now())
                    .await
            })
            .await?;
        let grant = grants.get(&case_id).cloned();
        if let Some(g) = &grant {
            match self.used_grants.lock() {
                Ok(mut used) => used.insert(case_id, g.clone()),
                Err(poisoned) => poisoned.into_inner().insert(case_id, g.clone()),
            };
        }
        Ok(grant)
    }

    /// The outside caller's access to these students (empty for other callers).
    async fn access_for(&self, ids: &[Uuid]) -> AppResult<HashMap<Uuid, Arc<StudentAccess>>> {
        let Some(recipient) = access::caller_recipient(self.caller()) else {
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
                service::access::load(&self.conn(), &recipient, &missing, self.now()).await?;
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

    async fn student_mask_facts(&self, model: &student::Model) -> AppResult<Facts> {
        let access = self.access_for(&[model.id]).await?;
        Ok(student_facts(
            self.caller(),
            model.id,
            model.processing_restricted,
            access.get(&model.id).map(|a| a.as_ref()),
        ))
    }

    // ----- Students -------------------------------------------------------------

    /// Guards students read together (a page, or a mutation's result).
    pub async fn student_records(
        &self,
        models: Vec<student::Model>,
    ) -> AppResult<Vec<StudentRecord>> {
        let models: Vec<Arc<student::Model>> = models.into_iter().map(Arc::new).collect();
        let group = StudentGroup::new(models.iter().cloned());
        self.student_records_in(models, group).await
    }

    async fn student_records_in(
        &self,
        models: Vec<Arc<student::Model>>,
        group: Arc<StudentGroup>,
    ) -> AppResult<Vec<StudentRecord>> {
        let ids: Vec<Uuid> = models.iter().map(|m| m.id).collect();
        self.access_for(&ids).await?;
        let mut out = Vec::with_capacity(models.len());
        for m in models {
            let facts = self.student_mask_facts(&m).await?;
            let subject = Some((m.id, None));
            out.push(StudentRecord {
                record: Guarded::new(m, self.decisions.mask(facts), subject),
                group: group.clone(),
            });
        }
        Ok(out)
    }

    async fn student_page(
        &self,
        rows: Vec<student::Model>,
        page: Page,
    ) -> AppResult<Paged<StudentRecord>> {
        let (rows, page_info) = pagination::finish(rows, page);
        let (cursors, models): (Vec<String>, Vec<_>) = rows.into_iter().unzip();
        let records = self.student_records(models).await?;
        Ok(Paged {
            edges: cursors.into_iter().zip(records).collect(),
            page_info,
        })
    }

    /// One student, if it exists and is visible to the caller.
    pub async fn student(&self, id: Uuid) -> AppResult<Option<StudentRecord>> {
        self.route(Action::ListStudents)?;
        match service::students::find(&self.conn(), &self.decisions, id).await? {
            Some(model) => Ok(self.student_records(vec![model]).await?.pop()),
            None => Ok(None),
        }
    }

    /// A page of the students visible to the caller.
    pub async fn students(
        &self,
        filter: &StudentFilter,
        order: StudentOrder,
        page: Page,
    ) -> AppResult<Paged<StudentRecord>> {
        self.route(Action::ListStudents)?;
        let rows =
            service::students::list(&self.conn(), &self.decisions, filter, order, page).await?;
        self.student_page(rows, page).await
    }

    pub async fn count_students(&self, filter: &StudentFilter) -> AppResult<u64> {
        self.route(Action::ListStudents)?;
        service::students::count(&self.conn(), &self.decisions, filter).await
    }

    /// A page of the partner feed: its entries, each with the student as the
    /// caller may read them now (`None` once their access has ended).
    pub async fn feed(
        &self,
        window: feed::Window,
        after: Option<feed::Position>,
        limit: u64,
    ) -> AppResult<Vec<FeedRow>> {
        self.route(Action::PartnerFeed)?;
        let page = feed::page(&self.conn(), &self.decisions, window, after, limit).await?;
        let ids: Vec<Uuid> = page.entries.iter().map(|e| e.key.student_id).collect();
        {
            // The feed read every consent and exception naming the caller for
            // these students: the guard reuses that state instead of reading it again.
            let mut cache = self.access.lock().await;
            let mut access = page.access;
            for id in &ids {
                let state = access.remove(id).unwrap_or_default();
                cache.entry(*id).or_insert_with(|| Arc::new(state));
            }
        }
        let entries = page.entries;
        let models = service::students::find_many(&self.conn(), &self.decisions, &ids).await?;
        let mut records: HashMap<Uuid, StudentRecord> = self
            .student_records(models)
            .await?
            .into_iter()
            .map(|r| (r.record.id(), r))
            .collect();
        // An entry is a record about its student, decided as the caller's
        // FEED_ENTRIES (and audited against that student).
        let mask = self.decisions.mask(Facts::base(Relation::None));
        Ok(entries
            .into_iter()
            .map(|e| FeedRow {
                position: e.key,
                empty: e.is_empty(),
                student: records.remove(&e.key.student_id),
                entry: Guarded::new(
                    Arc::new(e.clone()),
                    mask.clone(),
                    Some((e.key.student_id, None)),
                ),
            })
            .collect())
    }

    /// How many students the feed's window holds.
    pub async fn feed_count(&self, window: feed::Window) -> AppResult<u64> {
        self.route(Action::PartnerFeed)?;
        feed::count(&self.conn(), &self.decisions, window).await
    }

    /// The end of a feed window opened now: the settling time behind the clock.
    pub fn feed_until(&self) -> DateTime<Utc> {
        self.now() - self.limits.feed_settle
    }

    /// The student of a case, in the group the case was read with.
    pub async fn student_of_case(
        &self,
        case: &Guarded<support_case::Model>,
        cases: &CaseGroup,
    ) -> AppResult<StudentRecord> {
        // The parent group is alive while its cases are resolved (the student
        // record being resolved holds it); if it is not, a group of our own.
        let group = match cases.parent.as_ref().and_then(Weak::upgrade) {
            Some(parent) => parent,
            None => cases
                .student_group
                .get_or_init(|| StudentGroup::new(cases.students.values().cloned()))
                .clone(),
        };
        let student = cases
            .cases
            .get(&case.id())
            .and_then(|c| cases.students.get(&c.student_id))
            .cloned()
            .ok_or_else(|| AppError::internal("case", "student not loaded"))?;
        self.student_records_in(vec![student], group)
            .await?
            .pop()
            .ok_or_else(|| AppError::internal("case", "no student record"))
    }

    // ----- Cases ----------------------------------------------------------------

    /// Guards cases read together with their students.
    pub async fn case_records(&self, rows: Vec<CaseRow>) -> AppResult<Vec<CaseRecord>> {
        let mut students: HashMap<Uuid, Arc<student::Model>> = HashMap::new();
        let mut cases = Vec::with_capacity(rows.len());
        for (case, student) in rows {
            students
                .entry(student.id)
                .or_insert_with(|| Arc::new(student));
            cases.push(Arc::new(case));
        }
        let group = CaseGroup::new(&cases, students, None);
        self.case_records_in(cases, group, false).await
    }

    /// As [`Self::case_records`], for one case opened by id (where a break-glass
    /// grant applies).
    async fn case_record_by_id(&self, row: CaseRow) -> AppResult<Option<CaseRecord>> {
        let (case, student) = row;
        let mut students = HashMap::new();
        students.insert(student.id, Arc::new(student));
        let cases = vec![Arc::new(case)];
        let group = CaseGroup::new(&cases, students, None);
        Ok(self.case_records_in(cases, group, true).await?.pop())
    }

    async fn case_records_in(
        &self,
        cases: Vec<Arc<support_case::Model>>,
        group: Arc<CaseGroup>,
        by_id: bool,
    ) -> AppResult<Vec<CaseRecord>> {
        let ids: Vec<Uuid> = group.students.keys().copied().collect();
        let access = self.access_for(&ids).await?;
        let mut out = Vec::with_capacity(cases.len());
        for case in cases {
            let restricted = group
                .students
                .get(&case.student_id)
                .is_some_and(|s| s.processing_restricted);
            let base = facts::service_relation(
                self.caller(),
                case.student_id,
                Some(&case.service),
                restricted,
            );
            // Another service's case: read as one's own only under an active
            // break-glass grant, looked up when the case is opened by id (the
            // emergency read of one case; lists keep their statement count).
            let grant = match base {
                Relation::Other if by_id => self.grant_for(case.id).await?,
                _ => None,
            };
            let facts = case_facts(
                self.caller(),
                &case,
                restricted,
                access.get(&case.student_id).map(|a| a.as_ref()),
                grant.is_some(),
            );
            let subject = Some((case.student_id, Some(case.id)));
            out.push(CaseRecord {
                record: Guarded::new(case, self.decisions.mask(facts), subject),
                group: group.clone(),
            });
        }
        Ok(out)
    }

    /// One case, if it exists and is visible to the caller.
    pub async fn case(&self, id: Uuid) -> AppResult<Option<CaseRecord>> {
        self.route(Action::ListCases)?;
        match service::cases::find(&self.conn(), &self.decisions, id).await? {
            Some(row) => self.case_record_by_id(row).await,
            None => Ok(None),
        }
    }

    /// A page of the cases visible to the caller.
    pub async fn cases(
        &self,
        filter: &CaseFilter,
        order: CaseOrder,
        page: Page,
    ) -> AppResult<Paged<CaseRecord>> {
        self.route(Action::ListCases)?;
        let rows = service::cases::list(&self.conn(), &self.decisions, filter, order, page).await?;
        let (rows, page_info) = pagination::finish(rows, page);
        let (cursors, rows): (Vec<String>, Vec<_>) = rows.into_iter().unzip();
        let records = self.case_records(rows).await?;
        Ok(Paged {
            edges: cursors.into_iter().zip(records).collect(),
            page_info,
        })
    }

    pub async fn count_cases(&self, filter: &CaseFilter) -> AppResult<u64> {
        self.route(Action::ListCases)?;
        service::cases::count(&self.conn(), &self.decisions, filter).await
    }

    // ----- Children of a student (each takes a permit) ------------------------

    /// Enrolments of a student (under the student's ACADEMIC permit).
    pub async fn enrolments(
        &self,
        group: &StudentGroup,
        permit: &Permit<'_, student::Model>,
    ) -> AppResult<Vec<Guarded<enrolment::Model>>> {
        let all = group
            .enrolments
            .get_or_try_init(|| async {
                let rows = service::students::enrolments_of(&self.conn(), &group.ids()).await?;
                Ok::<_, AppError>(arc_lists(rows))
            })
            .await?;
        Ok(children(all, permit))
    }

    /// Consents of a student, newest first (under the CONSENTS permit): those in
    /// force, or all of them.
    pub async fn consents(
        &self,
        group: &StudentGroup,
        permit: &Permit<'_, student::Model>,
        include_inactive: bool,
    ) -> AppResult<Vec<Guarded<consent::Model>>> {
        let all = group
            .consents
            .get_or_try_init(|| async {
                let rows = service::consents::of_students(&self.conn(), &group.ids()).await?;
                Ok::<_, AppError>(arc_lists(rows))
            })
            .await?;
        let now = self.now();
        Ok(all
            .get(&permit.id())
            .map(|rows| {
                rows.iter()
                    .filter(|c| include_inactive || consent_in_force(c, now))
                    .map(|c| permit.child(c.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Risk exceptions about a student listed to the caller, newest first.
    pub async fn risk_exceptions_of(
        &self,
        group: &StudentGroup,
        permit: &Permit<'_, student::Model>,
    ) -> AppResult<Vec<Guarded<risk_exception::Model>>> {
        let all = group
            .exceptions
            .get_or_try_init(|| async {
                let rows =
                    service::risk_exceptions::of_students(&self.conn(), &group.ids()).await?;
                let mut map: HashMap<Uuid, Vec<risk_exception::Model>> = HashMap::new();
                for row in rows {
                    map.entry(row.student_id).or_default().push(row);
                }
                Ok::<_, AppError>(arc_lists(map))
            })
            .await?;
        let caller = self.caller();
        Ok(all
            .get(&permit.id())
            .map(|rows| {
                rows.iter()
                    .filter(|e| listed_once_informed(caller, e.student_informed_at))
                    .map(|e| permit.child(e.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The concern notices of active exceptions naming the caller, for one
    /// student (under the CONCERN_NOTICE permit).
    pub async fn concern_notices(
        &self,
        permit: &Permit<'_, student::Model>,
    ) -> AppResult<Vec<Guarded<risk_exception::Model>>> {
        let student = permit.id();
        let access = self.access_for(&[student]).await?;
        Ok(access
            .get(&student)
            .map(|a| {
                a.notices
                    .iter()
                    .map(|n| permit.child(Arc::new(n.clone())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The student's cases visible to the caller, oldest first (under the
    /// SUPPORT_SUMMARY permit).
    pub async fn cases_of(
        &self,
        group: &Arc<StudentGroup>,
        permit: &Permit<'_, student::Model>,
    ) -> AppResult<Vec<CaseRecord>> {
        let (by_student, case_group) = group
            .cases
            .get_or_try_init(|| async {
                let rows =
                    service::cases::cases_of_students(&self.conn(), &self.decisions, &group.ids())
                        .await?;
                let rows: Vec<Arc<support_case::Model>> = rows.into_iter().map(Arc::new).collect();
                let case_group = CaseGroup::new(&rows, group.students.clone(), Some(group));
                let mut by_student: ByParent<support_case::Model> = HashMap::new();
                for row in rows {
                    by_student.entry(row.student_id).or_default().push(row);
                }
                Ok::<_, AppError>((by_student, case_group))
            })
            .await?;
        let cases = by_student.get(&permit.id()).cloned().unwrap_or_default();
        self.case_records_in(cases, case_group.clone(), false).await
    }

    // ----- Children of a case ---------------------------------------------------

    /// Notes of a case, newest first, at most `limit` (under the CASE_NOTES
    /// permit). A note the caller's audience does not see at all is skipped
    /// before the limit is applied.
    pub async fn notes_of(
        &self,
        group: &CaseGroup,
        permit: &Permit<'_, support_case::Model>,
        limit: usize,
    ) -> AppResult<Vec<Guarded<note::Model>>> {
        let all = group
            .notes
            .get_or_try_init(|| async {
                let rows = service::cases::notes_of(&self.conn(), &group.ids()).await?;
                Ok::<_, AppError>(arc_lists(rows))
            })
            .await?;
        let Some(rows) = all.get(&permit.id()) else {
            return Ok(Vec::new());
        };
        let student = permit.subject().map(|(s, _)| s);
        let access = match student {
            Some(s) => self.access_for(&[s]).await?.remove(&s),
            None => None,
        };
        let caller = self.caller();
        let mut out = Vec::new();
        for n in rows {
            if out.len() >= limit {
                break;
            }
            let labels = crate::domain::SensitivityLabel::set_of(&crate::domain::labels_from_json(
                &n.labels,
            ));
            let facts = note_facts(permit.facts(), permit.id(), labels, access.as_deref());
            if !note_listed(caller, facts) {
                continue;
            }
            out.push(Guarded::new(
                n.clone(),
                self.decisions.mask(facts),
                permit.subject(),
            ));
        }
        Ok(out)
    }

    /// Third-party entries of a case (under the THIRD_PARTY permit).
    pub async fn third_party_of(
        &self,
        group: &CaseGroup,
        permit: &Permit<'_, support_case::Model>,
    ) -> AppResult<Vec<Guarded<third_party_entry::Model>>> {
        let all = group
            .third_party
            .get_or_try_init(|| async {
                let rows = service::cases::third_party_of(&self.conn(), &group.ids()).await?;
                Ok::<_, AppError>(arc_lists(rows))
            })
            .await?;
        Ok(children(all, permit))
    }

    /// The member of staff a case is assigned to: `staff_id` came from the
    /// case's own SUPPORT_SUMMARY decision.
    pub async fn assignee(
        &self,
        group: &CaseGroup,
        case: &Guarded<support_case::Model>,
        staff_id: Uuid,
    ) -> AppResult<Option<Guarded<staff::Model>>> {
        let staff = group
            .assignees
            .get_or_try_init(|| async {
                let ids = group.cases.values().filter_map(|c| c.assigned_to);
                Ok::<_, AppError>(arcs(service::cases::staff_by_ids(&self.conn(), ids).await?))
            })
            .await?;
        Ok(staff.get(&staff_id).map(|s| case.part(s.clone())))
    }

    /// The author of a note: `author_id` came from the note's CASE_NOTES decision.
    pub async fn note_author(
        &self,
        group: &CaseGroup,
        note: &Guarded<note::Model>,
        author_id: Uuid,
    ) -> AppResult<Option<Guarded<staff::Model>>> {
        let Some(notes) = group.notes.get() else {
            return Ok(None);
        };
        let staff = group
            .note_authors
            .get_or_try_init(|| async {
                let ids = notes.values().flatten().map(|n| n.author_id);
                Ok::<_, AppError>(arcs(service::cases::staff_by_ids(&self.conn(), ids).await?))
            })
            .await?;
        Ok(staff.get(&author_id).map(|s| note.part(s.clone())))
    }

    /// A note just written to a case (a mutation's result), guarded as the
    /// case's notes are; `None` where the caller's audience would not see it.
    pub async fn note_record(
        &self,
        row: CaseRow,
        note: note::Model,
    ) -> AppResult<Option<Guarded<note::Model>>> {
        let case = one(self.case_records(vec![row]).await?)?;
        let student = case.record.facts();
        let (student_id, case_id) = (case.group.student_of(case.record.id()), case.record.id());
        let access = match student_id {
            Some(s) => self.access_for(&[s]).await?.remove(&s),
            None => None,
        };
        let labels =
            crate::domain::SensitivityLabel::set_of(&crate::domain::labels_from_json(&note.labels));
        let facts = note_facts(student, case_id, labels, access.as_deref());
        if !note_listed(self.caller(), facts) {
            return Ok(None);
        }
        Ok(Some(Guarded::new(
            Arc::new(note),
            self.decisions.mask(facts),
            student_id.map(|s| (s, Some(case_id))),
        )))
    }

    /// A third-party entry just written to a case, guarded as the case's entries are.
    pub async fn third_party_record(
        &self,
        row: CaseRow,
        entry: third_party_entry::Model,
    ) -> AppResult<Guarded<third_party_entry::Model>> {
        let case = one(self.case_records(vec![row]).await?)?;
        let case_id = case.record.id();
        let subject = case.group.student_of(case_id).map(|s| (s, Some(case_id)));
        Ok(Guarded::new(
            Arc::new(entry),
            self.decisions.mask(case.record.facts()),
            subject,
        ))
    }

    /// The author of a note read outside a case page (a mutation's result):
    /// `author_id` came from the note's CASE_NOTES decision.
    pub async fn author_of(
        &self,
        note: &Guarded<note::Model>,
        author_id: Uuid,
    ) -> AppResult<Option<Guarded<staff::Model>>> {
        let mut staff = service::cases::staff_by_ids(&self.conn(), [author_id]).await?;
        Ok(staff.remove(&author_id).map(|s| note.part(Arc::new(s))))
    }

    // ----- Workflow records -----------------------------------------------------

    /// Guards records about one student (a consent, a risk exception, an
    /// enrolment) under that student's mask, as a mutation's result or a root
    /// list's row: the same mask as through the student.
    async fn about_student<M: crate::policy::Record>(
        &self,
        student_id: Uuid,
        models: Vec<M>,
    ) -> AppResult<Vec<Guarded<M>>> {
        let facts = match service::students::find(&self.conn(), &self.decisions, student_id).await?
        {
            Some(s) => self.student_mask_facts(&s).await?,
            // Not visible to the caller: decided as for a student they have no relation to.
            None => Facts::base(Relation::None),
        };
        let mask = self.decisions.mask(facts);
        Ok(models
            .into_iter()
            .map(|m| Guarded::new(Arc::new(m), mask.clone(), Some((student_id, None))))
            .collect())
    }

    /// A record about one student (a consent, a risk exception, an enrolment,
    /// an emergency disclosure or access), as a mutation's result: under that
    /// student's mask, as through the student.
    pub async fn record_about<M: crate::policy::Record>(
        &self,
        student_id: Uuid,
        model: M,
    ) -> AppResult<Guarded<M>> {
        one(self.about_student(student_id, vec![model]).await?)
    }

    /// Records listed with their students (a root list), each under its
    /// student's mask.
    async fn under_students<M: crate::policy::Record>(
        &self,
        rows: Vec<(M, student::Model)>,
    ) -> AppResult<Vec<Guarded<M>>> {
        let students: Vec<Uuid> = rows.iter().map(|(_, s)| s.id).collect();
        self.access_for(&students).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (record, s) in rows {
            let facts = self.student_mask_facts(&s).await?;
            out.push(Guarded::new(
                Arc::new(record),
                self.decisions.mask(facts),
                Some((s.id, None)),
            ));
        }
        Ok(out)
    }

    /// Break-glass reads awaiting review, each under its student's mask.
    pub async fn emergency_access_reviews(
        &self,
    ) -> AppResult<Vec<Guarded<entity::emergency_access::Model>>> {
        let rows =
            service::emergency_access::pending_reviews(&self.conn(), &self.decisions).await?;
        self.under_students(rows).await
    }

    /// Emergency disclosures awaiting review, each under its student's mask.
    pub async fn emergency_reviews(
        &self,
        overdue_only: bool,
    ) -> AppResult<Vec<Guarded<entity::emergency_disclosure::Model>>> {
        let rows = service::emergency::pending_reviews(&self.conn(), &self.decisions, overdue_only)
            .await?;
        self.under_students(rows).await
    }

    /// Emergency disclosures about a student listed to the caller, newest first.
    pub async fn emergency_disclosures_of(
        &self,
        permit: &Permit<'_, student::Model>,
    ) -> AppResult<Vec<Guarded<entity::emergency_disclosure::Model>>> {
        let rows = service::emergency::of_students(&self.conn(), &[permit.id()]).await?;
        let caller = self.caller();
        Ok(rows
            .into_iter()
            .filter(|e| listed_once_informed(caller, e.student_informed_at))
            .map(|e| permit.child(Arc::new(e)))
            .collect())
    }

    /// Restrictions of processing of a student, newest first.
    pub async fn restrictions_of(
        &self,
        permit: &Permit<'_, student::Model>,
    ) -> AppResult<Vec<Guarded<entity::restriction::Model>>> {
        let rows = service::restrictions::of_students(&self.conn(), &[permit.id()]).await?;
        Ok(rows
            .into_iter()
            .map(|r| permit.child(Arc::new(r)))
            .collect())
    }

    /// The rectification history of a student, newest first, each entry with
    /// the recipients to notify of it.
    pub async fn change_history_of(
        &self,
        permit: &Permit<'_, student::Model>,
    ) -> AppResult<
        Vec<(
            Guarded<entity::student_change::Model>,
            Vec<service::students::NotifyRecipient>,
        )>,
    > {
        let rows = service::students::history_of(&self.conn(), permit.id()).await?;
        let mut notify =
            service::students::recipients_to_notify(&self.conn(), permit.id(), &rows).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let to = notify.remove(&r.id).unwrap_or_default();
                (permit.child(Arc::new(r)), to)
            })
            .collect())
    }

    /// Legal authorities about a student listed to the caller, newest first.
    pub async fn legal_authorities_of(
        &self,
        permit: &Permit<'_, student::Model>,
    ) -> AppResult<Vec<Guarded<entity::legal_authority::Model>>> {
        let rows = service::legal::of_students(&self.conn(), &[permit.id()]).await?;
        let caller = self.caller();
        Ok(rows
            .into_iter()
            .filter(|l| facts::legal_listed(caller, l))
            .map(|l| permit.child(Arc::new(l)))
            .collect())
    }

    /// Risk exceptions (the root list), each under its student's mask.
    pub async fn risk_exceptions(
        &self,
        uninformed_only: bool,
    ) -> AppResult<Vec<Guarded<risk_exception::Model>>> {
        let rows =
            service::risk_exceptions::list(&self.conn(), &self.decisions, uninformed_only).await?;
        self.under_students(rows).await
    }

    /// The caller's own disclosure log (a student), under their own mask.
    pub async fn my_disclosures(&self) -> AppResult<Vec<Guarded<audit_event::Model>>> {
        let rows = service::risk_exceptions::my_disclosures(&self.conn(), &self.decisions).await?;
        let me = self.caller().id;
        self.about_student(me, rows).await
    }

    /// The caller's own access log (a student), under their own mask.
    pub async fn my_access_log(
        &self,
    ) -> AppResult<Vec<Guarded<service::risk_exceptions::AccessLogEntry>>> {
        let rows = service::risk_exceptions::my_access_log(&self.conn(), &self.decisions).await?;
        let me = self.caller().id;
        self.about_student(me, rows).await
    }

    /// The students due for destruction as of a date (the DPO), each decided
    /// as the caller's RETENTION (about no student's own facts).
    pub async fn retention_due(
        &self,
        as_of: chrono::NaiveDate,
    ) -> AppResult<Vec<Guarded<service::retention::DueEntry>>> {
        self.decisions
            .authorize(Action::ReadRetention, Relation::Any)?;
        let rows = service::retention::report(&self.conn(), as_of).await?;
        let mask = self.decisions.mask(Facts::base(Relation::Any));
        Ok(rows
            .into_iter()
            .map(|r| {
                let subject = Some((r.student_id, None));
                Guarded::new(Arc::new(r), mask.clone(), subject)
            })
            .collect())
    }

    /// The registered operations (the DPO), each decided as the caller's
    /// OPERATIONS (about no student).
    pub async fn registered_operations(
        &self,
    ) -> AppResult<Vec<Guarded<entity::registered_operation::Model>>> {
        self.decisions
            .authorize(Action::ListOperations, Relation::Any)?;
        let rows = service::operations::list(&self.conn()).await?;
        let mask = self.decisions.mask(Facts::base(Relation::Any));
        Ok(rows
            .into_iter()
            .map(|r| Guarded::new(Arc::new(r), mask.clone(), None))
            .collect())
    }

    /// The caller's own erasure requests (a student), under their own mask.
    pub async fn my_erasure_requests(
        &self,
    ) -> AppResult<Vec<Guarded<entity::erasure_request::Model>>> {
        let rows = service::erasure::mine(&self.conn(), &self.decisions).await?;
        let me = self.caller().id;
        self.about_student(me, rows).await
    }

    /// Subject access requests (the DPO), each under its student's mask.
    pub async fn subject_access_requests(
        &self,
        status: Option<service::sar::SubjectAccessRequestStatus>,
    ) -> AppResult<Vec<Guarded<entity::subject_access_request::Model>>> {
        self.route(Action::ListSubjectAccessRequests)?;
        let rows = service::sar::list(&self.conn(), &self.decisions, status).await?;
        self.under_students(rows).await
    }

    /// The caller's own subject access requests (a student), under their own mask.
    pub async fn my_subject_access_requests(
        &self,
    ) -> AppResult<Vec<Guarded<entity::subject_access_request::Model>>> {
        self.route(Action::ReadOwnSubjectAccessRequests)?;
        let rows = service::sar::mine(&self.conn(), &self.decisions).await?;
        let me = self.caller().id;
        self.about_student(me, rows).await
    }

    /// Erasure requests (the DPO), each under its student's mask.
    pub async fn erasure_requests(
        &self,
        open_only: bool,
    ) -> AppResult<Vec<Guarded<entity::erasure_request::Model>>> {
        let rows = service::erasure::list(&self.conn(), &self.decisions, open_only).await?;
        self.under_students(rows).await
    }

    /// The serious-harm reviews of a request (under its SUBJECT_ACCESS permit).
    pub async fn serious_harm_reviews(
        &self,
        permit: &Permit<'_, entity::subject_access_request::Model>,
    ) -> AppResult<Vec<Guarded<entity::serious_harm_review::Model>>> {
        let rows = service::sar::reviews_of(&self.conn(), permit.id()).await?;
        Ok(rows
            .into_iter()
            .map(|r| permit.child(Arc::new(r)))
            .collect())
    }

    /// The export of a subject access request (the DPO), with the request
    /// under its student's mask. Its audit record extends the hash chain, so
    /// it is written in the request's write transaction.
    pub async fn subject_access_export(
        &self,
        id: Uuid,
    ) -> AppResult<(
        Guarded<entity::subject_access_request::Model>,
        serde_json::Value,
    )> {
        self.route(Action::ExportSubjectAccess)?;
        let txn = self.write_txn().await?;
        let (request, document) = service::sar::export(txn, &self.decisions, id).await?;
        let record = self.record_about(request.student_id, request).await?;
        Ok((record, document))
    }

    /// The audit trail (the DPO; a service lead for their service's staff),
    /// decided as the caller's AUDIT_TRAIL.
    pub async fn audit_events(
        &self,
        filter: service::audit::AuditFilter,
        limit: u64,
    ) -> AppResult<Vec<Guarded<audit_event::Model>>> {
        let rows = service::audit::query(&self.conn(), &self.decisions, filter, limit).await?;
        let mask = self.decisions.mask(Facts::base(Relation::Any));
        Ok(rows
            .into_iter()
            .map(|r| {
                let subject = r.student_id.map(|s| (s, None));
                Guarded::new(Arc::new(r), mask.clone(), subject)
            })
            .collect())
    }

    /// The lawful basis configuration: about no student, its fields are
    /// AUDIT_TRAIL, decided under `any`.
    pub async fn lawful_bases(&self) -> AppResult<Vec<Guarded<entity::lawful_basis::Model>>> {
        let rows = service::lawful_bases::list(&self.conn(), &self.decisions).await?;
        Ok(rows.into_iter().map(|m| self.directory_record(m)).collect())
    }

    /// The caller's own account.
    pub fn me(&self) -> Guarded<Caller> {
        Guarded::new(
            Arc::new(self.caller().clone()),
            self.decisions.mask(Facts::base(Relation::SelfRecord)),
            None,
        )
    }

    /// A record about no student (a member of staff, a department, a
    /// university service, a partner organisation, a lawful basis), as a
    /// mutation's result: its fields (DIRECTORY, AUDIT_TRAIL) are decided under `any`.
    pub fn directory_record<M: crate::policy::Record>(&self, model: M) -> Guarded<M> {
        Guarded::new(
            Arc::new(model),
            self.decisions.mask(Facts::base(Relation::Any)),
            None,
        )
    }

    /// A new research extract (analysts): about no identified student, its
    /// fields RESEARCH_EXTRACT under `any`. Its record and audit record are
    /// written in the request's write transaction.
    pub async fn research_extract(
        &self,
        k: Option<i64>,
    ) -> AppResult<Guarded<crate::research::extract::Extract>> {
        self.route(Action::ReadResearchExtract)?;
        let _one = self.one_scan_at_a_time().await;
        let txn = self.write_txn().await?;
        let extract =
            crate::research::extract::create(txn, &self.decisions, &self.limits.research, k)
                .await?;
        Ok(self.directory_record(extract))
    }
}

fn children<P: crate::policy::Record, C: crate::policy::Record>(
    all: &ByParent<C>,
    permit: &Permit<'_, P>,
) -> Vec<Guarded<C>> {
    all.get(&permit.id())
        .map(|rows| rows.iter().map(|r| permit.child(r.clone())).collect())
        .unwrap_or_default()
}

fn arcs(map: HashMap<Uuid, staff::Model>) -> HashMap<Uuid, Arc<staff::Model>> {
    map.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()
}

fn one<T>(mut items: Vec<T>) -> AppResult<T> {
    items
        .pop()
        .ok_or_else(|| AppError::internal("guard", "no record"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_student_group_and_the_case_group_read_from_it_are_freed_together() {
        let students = StudentGroup::new(Vec::new());
        let cases = CaseGroup::new(&[], HashMap::new(), Some(&students));
        assert!(students.cases.set((HashMap::new(), cases)).is_ok());
        let watched = Arc::downgrade(&students);
        drop(students);
        assert!(
            watched.upgrade().is_none(),
            "a reference cycle keeps the groups (and all they loaded) alive"
        );
    }

    #[test]
    fn a_case_group_and_the_student_group_made_for_it_are_freed_together() {
        let cases = CaseGroup::new(&[], HashMap::new(), None);
        let students = cases
            .student_group
            .get_or_init(|| StudentGroup::new(Vec::new()))
            .clone();
        // The students' own cases, read through the group made for them.
        let theirs = CaseGroup::new(&[], HashMap::new(), Some(&students));
        assert!(students.cases.set((HashMap::new(), theirs)).is_ok());
        drop(students);
        let watched = Arc::downgrade(&cases);
        drop(cases);
        assert!(
            watched.upgrade().is_none(),
            "a reference cycle keeps the groups (and all they loaded) alive"
        );
    }
}
