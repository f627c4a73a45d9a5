//! The population statistics count: every case of a student whose processing
//! is not restricted, with the student's department and the labels of the
//! case's notes. Read in one statement, with the values statistics need worked
//! out by the database (the labels as bits, times as seconds), and kept in
//! memory with the statistics version it was read at. Triggers in the database
//! bump that version on every write to a case, a student's department or
//! restriction, or a note's labels, whoever makes it, and record which case
//! or student each write touched in `statistics_change` (migration 000110).
//! When the version has moved, a question reads just the changed cases again
//! (the same statement, narrowed to them) and builds a new population from the
//! old one; when the changes are many, a case or a student was deleted, or the
//! change rows it needs were pruned, it reads the whole population. Either way
//! a query never counts from a population older than the data it could read.

use super::table::{self, CaseRow};
use crate::domain::SensitivityLabel;
use crate::error::{AppError, AppResult};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Most change rows applied to a population in memory: more, and the whole
/// population is read again (reading 2,000 cases by id costs about what a
/// tenth of the whole read does).
pub const MAX_CHANGES: usize = 2_000;

/// Change rows of the last this many versions are kept; older ones are
/// pruned. Each version has at least one change row, so a population more
/// than [`MAX_CHANGES`] versions old is read whole anyway: keeping 10,000
/// never forces a whole read that keeping all would have avoided.
pub const KEEP_VERSIONS: i64 = 10_000;

/// Ids bound in one statement reading changed cases (each is bound twice).
const CHUNK: usize = 400;

/// The population last read, and the statistics version it was read at.
/// One per server (cloned handles share it); a server over another database
/// has its own.
#[derive(Clone, Default)]
pub struct PopulationCache(Arc<Mutex<Option<Snapshot>>>);

#[derive(Clone)]
struct Snapshot {
    version: i64,
    rows: Arc<Vec<CaseRow>>,
    /// The case id of each row (same order as `rows`).
    cases: Arc<Vec<Uuid>>,
    /// Student id -> the index in [`CaseRow::student`].
    students: Arc<HashMap<Uuid, u32>>,
}

impl std::fmt::Debug for PopulationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PopulationCache")
    }
}

/// Whether a population came from memory, was read whole from the database,
/// or was the one in memory with the changed cases read again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Memory,
    Database,
    Incremental,
}

impl PopulationCache {
    /// The population as the connection sees it now. Call it inside the
    /// query's transaction: the version is read before the rows, so a
    /// population is never labelled with a version newer than its data.
    pub async fn rows(&self, db: &impl ConnectionTrait) -> AppResult<(Arc<Vec<CaseRow>>, Source)> {
        let (current, pruned) = versions(db).await?;
        let old = self.get();
        if let Some(s) = old.as_ref().filter(|s| s.version == current) {
            return Ok((s.rows.clone(), Source::Memory));
        }
        let mut incremental = None;
        if let Some(s) = old.filter(|s| s.version >= pruned && s.version < current) {
            if let Some(c) = changes(db, s.version).await? {
                incremental = Some(apply(db, &s, c).await?);
            }
        }
        let (snapshot, source) = match incremental {
            Some(s) => (s, Source::Incremental),
            None => (load(db, current).await?, Source::Database),
        };
        prune(db, snapshot.version, pruned).await?;
        let rows = snapshot.rows.clone();
        self.put(snapshot);
        Ok((rows, source))
    }

    fn get(&self) -> Option<Snapshot> {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard.clone()
    }

    fn put(&self, snapshot: Snapshot) {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Of two readers racing, the later version stays.
        if guard.as_ref().is_none_or(|s| s.version <= snapshot.version) {
            *guard = Some(snapshot);
        }
    }
}

/// The current statistics version and the version change rows are pruned
/// through (a missing row is an error: without it a population in memory
/// could not be checked).
async fn versions(db: &impl ConnectionTrait) -> AppResult<(i64, i64)> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id, version FROM statistics_version WHERE id IN (1, 2)".to_owned(),
        ))
        .await?;
    let (mut current, mut pruned) = (None, None);
    for r in rows {
        let id: i32 = r.try_get_by_index(0)?;
        let v: i64 = r.try_get_by_index(1)?;
        match id {
            1 => current = Some(v),
            _ => pruned = Some(v),
        }
    }
    match (current, pruned) {
        (Some(c), Some(p)) => Ok((c, p)),
        _ => Err(AppError::internal(
            "statistics",
            "statistics_version lacks its rows",
        )),
    }
}

/// What changed after a population's version, up to the version now.
struct Changes {
    version: i64,
    cases: HashSet<Uuid>,
    students: HashSet<Uuid>,
}

/// The changes after version `since`, or `None` when the population must be
/// read whole: too many, one meaning "everything" (a delete, a truncate),
/// some pruned, or a version with no change row (a bump by hand). One
/// statement: it sees the version and every change row up to it together
/// (on PostgreSQL versions commit in order, under the row lock).
async fn changes(db: &impl ConnectionTrait, since: i64) -> AppResult<Option<Changes>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT v.version, p.version, c.version, c.case_id, c.student_id \
                 FROM statistics_version v JOIN statistics_version p ON p.id = 2 \
                 LEFT JOIN statistics_change c ON c.version > {since} AND c.version <= v.version \
                 WHERE v.id = 1 LIMIT {}",
                MAX_CHANGES + 1
            ),
        ))
        .await?;
    if rows.len() > MAX_CHANGES {
        return Ok(None);
    }
    let mut out = Changes {
        version: since,
        cases: HashSet::new(),
        students: HashSet::new(),
    };
    let mut versions = HashSet::new();
    for r in &rows {
        let current: i64 = r.try_get_by_index(0)?;
        let pruned: i64 = r.try_get_by_index(1)?;
        if since < pruned {
            return Ok(None);
        }
        out.version = current;
        let Some(v) = r.try_get_by_index::<Option<i64>>(2)? else {
            continue;
        };
        versions.insert(v);
        let case: Option<Uuid> = r.try_get_by_index(3)?;
        let student: Option<Uuid> = r.try_get_by_index(4)?;
        match (case, student) {
            (None, None) => return Ok(None),
            (c, s) => {
                out.cases.extend(c);
                out.students.extend(s);
            }
        }
    }
    if i64::try_from(versions.len()).ok() != Some(out.version - since) {
        return Ok(None);
    }
    Ok(Some(out))
}

/// A new population: the old one without the changed cases (and every case
/// of a changed student), with those cases read again (a case now of a
/// restricted student is not read, so it drops out).
async fn apply(db: &impl ConnectionTrait, old: &Snapshot, changes: Changes) -> AppResult<Snapshot> {
    let backend = db.get_database_backend();
    let mut fetched: HashMap<Uuid, Raw> = HashMap::new();
    let cases: Vec<Uuid> = changes.cases.iter().copied().collect();
    let students: Vec<Uuid> = changes.students.iter().copied().collect();
    for (ids, outer, inner) in [
        (&cases, "c.id IN ({})", "case_id IN ({})"),
        (
            &students,
            "c.student_id IN ({})",
            "case_id IN (SELECT id FROM support_case WHERE student_id IN ({}))",
        ),
    ] {
        for chunk in ids.chunks(CHUNK) {
            let n = chunk.len();
            let inner = inner.replace("{}", &placeholders(backend, 1, n));
            let outer = outer.replace("{}", &placeholders(backend, n + 1, n));
            let values: Vec<Value> = chunk.iter().chain(chunk).map(|u| (*u).into()).collect();
            let results = db
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    population_sql(backend, Some((&inner, &outer))),
                    values,
                ))
                .await?;
            for r in &results {
                let raw = Raw::decode(r)?;
                fetched.insert(raw.case, raw);
            }
        }
    }
    let gone_students: HashSet<u32> = changes
        .students
        .iter()
        .filter_map(|s| old.students.get(s).copied())
        .collect();
    let mut rows = Vec::with_capacity(old.rows.len() + fetched.len());
    let mut ids = Vec::with_capacity(old.rows.len() + fetched.len());
    for (row, id) in old.rows.iter().zip(old.cases.iter()) {
        if changes.cases.contains(id)
            || fetched.contains_key(id)
            || gone_students.contains(&row.student)
        {
            continue;
        }
        rows.push(row.clone());
        ids.push(*id);
    }
    let mut students = old.students.clone();
    let mut texts = Texts::default();
    for raw in fetched.into_values() {
        let next = students.len() as u32;
        let student = match students.get(&raw.student) {
            Some(i) => *i,
            None => *Arc::make_mut(&mut students)
                .entry(raw.student)
                .or_insert(next),
        };
        ids.push(raw.case);
        rows.push(raw.row(student, &mut texts)?);
    }
    Ok(Snapshot {
        version: changes.version,
        rows: Arc::new(rows),
        cases: Arc::new(ids),
        students,
    })
}

/// After a population is kept at `version`: the change rows of versions more
/// than [`KEEP_VERSIONS`] older are deleted, in batches (only when twice that
/// many have built up, so most questions write nothing here). Row 2 of
/// `statistics_version` records how far; a population older than that is
/// read whole. Bounded: at most about 2 x 10,000 versions of rows at a time.
async fn prune(db: &impl ConnectionTrait, version: i64, pruned: i64) -> AppResult<()> {
    if version - pruned <= 2 * KEEP_VERSIONS {
        return Ok(());
    }
    let through = version - KEEP_VERSIONS;
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_string(
        backend,
        format!("UPDATE statistics_version SET version = {through} WHERE id = 2 AND version < {through}"),
    ))
    .await?;
    db.execute_raw(Statement::from_string(
        backend,
        format!("DELETE FROM statistics_change WHERE version <= {through}"),
    ))
    .await?;
    Ok(())
}

fn placeholders(backend: DbBackend, first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| match backend {
            DbBackend::Postgres => format!("${i}"),
            _ => "?".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statement reading the population. Labels are found in the notes' JSON
/// text by their quoted names (no label's quoted name is inside another's),
/// one bit each by [`SensitivityLabel::index`].
/// `only`: (a condition on `note.case_id`, one on `c`) narrowing it to some
/// cases, the same restriction filter applying.
fn population_sql(backend: DbBackend, only: Option<(&str, &str)>) -> String {
    let (find, epoch, unrestricted) = match backend {
        DbBackend::Postgres => (
            "strpos",
            "CAST(EXTRACT(EPOCH FROM {}) AS BIGINT)",
            "s.processing_restricted = FALSE",
        ),
        _ => (
            "instr",
            "CAST(strftime('%s', {}) AS INTEGER)",
            "s.processing_restricted = 0",
        ),
    };
    let bits: Vec<String> = SensitivityLabel::ALL
        .iter()
        .map(|l| {
            format!(
                "MAX(CASE WHEN {find}(CAST(labels AS TEXT), '\"{}\"') > 0 THEN {} ELSE 0 END)",
                l.as_str(),
                1u32 << l.index()
            )
        })
        .collect();
    let (inner, outer) = only
        .map(|(i, o)| (format!(" AND {i}"), format!(" AND {o}")))
        .unwrap_or_default();
    format!(
        "SELECT c.student_id, c.service, c.status, s.department, c.risk_level, \
         {opened}, {closed}, CAST(COALESCE(l.bits, 0) AS BIGINT), c.id \
         FROM support_case c JOIN student s ON s.id = c.student_id \
         LEFT JOIN (SELECT case_id, {bits} AS bits FROM note \
         WHERE CAST(labels AS TEXT) <> '[]'{inner} GROUP BY case_id) l ON l.case_id = c.id \
         WHERE {unrestricted}{outer}",
        opened = epoch.replace("{}", "c.opened_at"),
        closed = epoch.replace("{}", "c.closed_at"),
        bits = bits.join(" + "),
    )
}

/// One row of the population statement, before its student gets an index.
struct Raw {
    case: Uuid,
    student: Uuid,
    service: String,
    status: String,
    department: String,
    risk: String,
    opened: i64,
    closed: Option<i64>,
    labels: i64,
}

impl Raw {
    fn decode(r: &QueryResult) -> AppResult<Raw> {
        Ok(Raw {
            student: r.try_get_by_index(0)?,
            service: r.try_get_by_index(1)?,
            status: r.try_get_by_index(2)?,
            department: r.try_get_by_index(3)?,
            risk: r.try_get_by_index(4)?,
            opened: r.try_get_by_index(5)?,
            closed: r.try_get_by_index(6)?,
            labels: r.try_get_by_index(7)?,
            case: r.try_get_by_index(8)?,
        })
    }

    fn row(self, student: u32, texts: &mut Texts) -> AppResult<CaseRow> {
        Ok(CaseRow {
            student,
            service: texts.shared(self.service),
            status: texts.shared(self.status),
            department: texts.shared(self.department),
            risk: texts.shared(self.risk),
            month: table::month_of_seconds(self.opened)?,
            opened: self.opened,
            closed: self.closed,
            labels: u32::try_from(self.labels)
                .map_err(|_| AppError::internal("statistics", "label bits out of range"))?,
        })
    }
}

/// Each distinct text value once.
#[derive(Default)]
struct Texts(HashMap<String, Arc<str>>);

impl Texts {
    fn shared(&mut self, s: String) -> Arc<str> {
        self.0
            .entry(s)
            .or_insert_with_key(|k| Arc::from(k.as_str()))
            .clone()
    }
}

/// Reads the whole population from the database (`version` read before it).
async fn load(db: &impl ConnectionTrait, version: i64) -> AppResult<Snapshot> {
    let backend = db.get_database_backend();
    let results = db
        .query_all_raw(Statement::from_string(
            backend,
            population_sql(backend, None),
        ))
        .await?;
    let mut students: HashMap<Uuid, u32> = HashMap::new();
    let mut texts = Texts::default();
    let mut rows = Vec::with_capacity(results.len());
    let mut cases = Vec::with_capacity(results.len());
    for r in &results {
        let raw = Raw::decode(r)?;
        let next = students.len() as u32;
        let student = *students.entry(raw.student).or_insert(next);
        cases.push(raw.case);
        rows.push(raw.row(student, &mut texts)?);
    }
    Ok(Snapshot {
        version,
        rows: Arc::new(rows),
        cases: Arc::new(cases),
        students: Arc::new(students),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use sea_orm::DatabaseConnection;

    /// A population, comparable whatever the order and student indices.
    type Canonical = Vec<(
        Uuid,
        Uuid,
        String,
        String,
        String,
        String,
        i64,
        Option<i64>,
        u32,
    )>;

    fn canonical(s: &Snapshot) -> Canonical {
        let by_index: HashMap<u32, Uuid> = s.students.iter().map(|(u, i)| (*i, *u)).collect();
        let mut out: Canonical = s
            .rows
            .iter()
            .zip(s.cases.iter())
            .map(|(r, c)| {
                (
                    *c,
                    by_index[&r.student],
                    r.service.to_string(),
                    r.status.to_string(),
                    r.department.to_string(),
                    r.risk.to_string(),
                    r.opened,
                    r.closed,
                    r.labels,
                )
            })
            .collect();
        out.sort();
        out
    }

    async fn ids(db: &DatabaseConnection, sql: &str) -> Vec<Uuid> {
        db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get_by_index(0).unwrap())
            .collect()
    }

    async fn exec(db: &DatabaseConnection, sql: &str, values: Vec<Value>) {
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await
        .unwrap();
    }

    /// One random write of the kinds the triggers record.
    async fn random_write(db: &DatabaseConnection, rng: &mut impl Rng) {
        let cases = ids(db, "SELECT id FROM support_case ORDER BY id").await;
        let notes = ids(db, "SELECT id FROM note ORDER BY id").await;
        let students = ids(db, "SELECT id FROM student ORDER BY id").await;
        let case = cases[rng.random_range(0..cases.len())];
        let other = cases[rng.random_range(0..cases.len())];
        let note = notes[rng.random_range(0..notes.len())];
        let student = students[rng.random_range(0..students.len())];
        let label = SensitivityLabel::ALL[rng.random_range(0..SensitivityLabel::ALL.len())];
        match rng.random_range(0..10) {
            0 => {
                let risk = ["none", "low", "medium", "high"][rng.random_range(0..4)];
                exec(
                    db,
                    "UPDATE support_case SET risk_level = ? WHERE id = ?",
                    vec![risk.into(), case.into()],
                )
                .await
            }
            1 => {
                exec(
                    db,
                    "UPDATE support_case SET status = 'closed', closed_at = opened_at WHERE id = ?",
                    vec![case.into()],
                )
                .await
            }
            2 => {
                let labels = if rng.random_bool(0.3) {
                    "[]".to_owned()
                } else {
                    serde_json::json!([label.as_str()]).to_string()
                };
                exec(
                    db,
                    "UPDATE note SET labels = ? WHERE id = ?",
                    vec![labels.into(), note.into()],
                )
                .await
            }
            3 => {
                exec(
                    db,
                    "UPDATE note SET case_id = ? WHERE id = ?",
                    vec![other.into(), note.into()],
                )
                .await
            }
            4 => {
                let dept = ["History", "Physics", "Law"][rng.random_range(0..3)];
                exec(
                    db,
                    "UPDATE student SET department = ? WHERE id = ?",
                    vec![dept.into(), student.into()],
                )
                .await
            }
            5 => {
                exec(
                    db,
                    "UPDATE student SET processing_restricted = NOT processing_restricted \
                     WHERE id = ?",
                    vec![student.into()],
                )
                .await
            }
            6 => {
                exec(
                    db,
                    "INSERT INTO support_case (id, student_id, service, status, opened_at, \
                     closed_at, assigned_to, summary, adjustments, risk_level, created_at, \
                     updated_at) SELECT ?, ?, service, status, opened_at, closed_at, \
                     assigned_to, summary, adjustments, risk_level, created_at, updated_at \
                     FROM support_case WHERE id = ?",
                    vec![Uuid::new_v4().into(), student.into(), case.into()],
                )
                .await
            }
            7 => {
                exec(
                    db,
                    "UPDATE support_case SET student_id = ? WHERE id = ?",
                    vec![student.into(), case.into()],
                )
                .await
            }
            8 if rng.random_bool(0.2) => {
                // A delete: the whole population is read again.
                exec(db, "DELETE FROM note WHERE case_id = ?", vec![case.into()]).await;
                exec(
                    db,
                    "DELETE FROM support_case WHERE id = ?",
                    vec![case.into()],
                )
                .await
            }
            _ => {
                exec(
                    db,
                    "UPDATE note SET body = 'unrelated' WHERE id = ?",
                    vec![note.into()],
                )
                .await
            }
        }
    }

    /// After random writes, the population built from the one kept equals
    /// the population read whole.
    #[tokio::test]
    async fn the_population_kept_and_updated_equals_the_one_read_whole() {
        let (_dir, db) = crate::seed::seeded(40, 3, 3).await;
        let cache = PopulationCache::default();
        let (_, source) = cache.rows(&db).await.unwrap();
        assert_eq!(source, Source::Database);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut seen = HashSet::new();
        for round in 0..60 {
            for _ in 0..rng.random_range(1..5) {
                random_write(&db, &mut rng).await;
            }
            let (_, source) = cache.rows(&db).await.unwrap();
            seen.insert(format!("{source:?}"));
            let (version, _) = versions(&db).await.unwrap();
            let whole = load(&db, version).await.unwrap();
            let kept = cache.get().unwrap();
            assert_eq!(kept.version, version, "round {round}");
            assert_eq!(
                canonical(&kept),
                canonical(&whole),
                "round {round} ({source:?})"
            );
        }
        assert!(seen.contains("Incremental"), "{seen:?}");
    }

    /// Change rows older than the versions kept are pruned, and a population
    /// older than the pruning is read whole.
    #[tokio::test]
    async fn old_change_rows_are_pruned_and_an_older_population_read_whole() {
        let (_dir, db) = crate::seed::seeded(10, 2, 1).await;
        let stale = PopulationCache::default();
        stale.rows(&db).await.unwrap();
        let cache = PopulationCache::default();
        cache.rows(&db).await.unwrap();
        // More than twice the versions kept.
        let (start, _) = versions(&db).await.unwrap();
        while versions(&db).await.unwrap().0 - start <= 2 * KEEP_VERSIONS {
            exec(
                &db,
                "UPDATE support_case SET risk_level = CASE WHEN risk_level = 'low' \
                 THEN 'high' ELSE 'low' END",
                vec![],
            )
            .await;
        }
        let (_, source) = cache.rows(&db).await.unwrap();
        assert_eq!(source, Source::Database, "too many changes");
        let (version, pruned) = versions(&db).await.unwrap();
        assert_eq!(pruned, version - KEEP_VERSIONS);
        let left = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*), MIN(version) FROM statistics_change",
            ))
            .await
            .unwrap()
            .unwrap();
        assert!(left.try_get_by_index::<i64>(1).unwrap() > pruned);
        // One more write: the kept population is updated, the stale one read whole.
        exec(
            &db,
            "UPDATE support_case SET risk_level = 'medium' WHERE id = (SELECT MIN(id) FROM support_case)",
            vec![],
        )
        .await;
        let (_, source) = cache.rows(&db).await.unwrap();
        assert_eq!(source, Source::Incremental);
        let (_, source) = stale.rows(&db).await.unwrap();
        assert_eq!(source, Source::Database, "its changes were pruned");
        let (version, _) = versions(&db).await.unwrap();
        let whole = load(&db, version).await.unwrap();
        assert_eq!(canonical(&cache.get().unwrap()), canonical(&whole));
    }
}
