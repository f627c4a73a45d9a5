//! The population statistics count: every case of a student whose processing
//! is not restricted, with the student's department and the labels of the
//! case's notes. Read in one statement, with the values statistics need worked
//! out by the database (the labels as bits, times as seconds), and kept in
//! memory while the statistics version is unchanged: triggers in the database
//! bump that version on every write to a case, a student's department or
//! restriction, or a note's labels, whoever makes it (migration 000086), so a
//! query never counts from a population older than the data it could read.

use super::table::{self, CaseRow};
use crate::domain::SensitivityLabel;
use crate::error::{AppError, AppResult};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// The population last read, and the statistics version it was read at.
/// One per server (cloned handles share it); a server over another database
/// has its own.
#[derive(Clone, Default)]
pub struct PopulationCache(Arc<Mutex<Option<Snapshot>>>);

struct Snapshot {
    version: i64,
    rows: Arc<Vec<CaseRow>>,
}

impl std::fmt::Debug for PopulationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PopulationCache")
    }
}

/// Whether a population came from memory or was read from the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Memory,
    Database,
}

impl PopulationCache {
    /// The population as the connection sees it now. Call it inside the
    /// query's transaction: the version is read before the rows, so a
    /// population is never labelled with a version newer than its data.
    pub async fn rows(&self, db: &impl ConnectionTrait) -> AppResult<(Arc<Vec<CaseRow>>, Source)> {
        let current = version(db).await?;
        if let Some(rows) = self.get(current) {
            return Ok((rows, Source::Memory));
        }
        let rows = Arc::new(load(db).await?);
        self.put(current, rows.clone());
        Ok((rows, Source::Database))
    }

    fn get(&self, version: i64) -> Option<Arc<Vec<CaseRow>>> {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|s| s.version == version)
            .map(|s| s.rows.clone())
    }

    fn put(&self, version: i64, rows: Arc<Vec<CaseRow>>) {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Of two readers racing, the later version stays.
        if guard.as_ref().is_none_or(|s| s.version <= version) {
            *guard = Some(Snapshot { version, rows });
        }
    }
}

/// The current statistics version (a missing row is an error: without it a
/// population in memory could not be checked).
async fn version(db: &impl ConnectionTrait) -> AppResult<i64> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM statistics_version WHERE id = 1".to_owned(),
        ))
        .await?
        .ok_or_else(|| AppError::internal("statistics", "statistics_version has no row"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// The statement reading the population. Labels are found in the notes' JSON
/// text by their quoted names (no label's quoted name is inside another's),
/// one bit each by [`SensitivityLabel::index`].
fn population_sql(backend: DbBackend) -> String {
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
    format!(
        "SELECT c.student_id, c.service, c.status, s.department, c.risk_level, \
         {opened}, {closed}, CAST(COALESCE(l.bits, 0) AS BIGINT) \
         FROM support_case c JOIN student s ON s.id = c.student_id \
         LEFT JOIN (SELECT case_id, {bits} AS bits FROM note \
         WHERE CAST(labels AS TEXT) <> '[]' GROUP BY case_id) l ON l.case_id = c.id \
         WHERE {unrestricted}",
        opened = epoch.replace("{}", "c.opened_at"),
        closed = epoch.replace("{}", "c.closed_at"),
        bits = bits.join(" + "),
    )
}

/// Reads the population from the database.
async fn load(db: &impl ConnectionTrait) -> AppResult<Vec<CaseRow>> {
    let backend = db.get_database_backend();
    let results = db
        .query_all_raw(Statement::from_string(backend, population_sql(backend)))
        .await?;
    let mut students: HashMap<Uuid, u32> = HashMap::new();
    let mut texts: HashMap<String, Arc<str>> = HashMap::new();
    let mut shared = |s: String| -> Arc<str> {
        texts
            .entry(s)
            .or_insert_with_key(|k| Arc::from(k.as_str()))
            .clone()
    };
    let mut rows = Vec::with_capacity(results.len());
    for r in results {
        let student: Uuid = r.try_get_by_index(0)?;
        let opened: i64 = r.try_get_by_index(5)?;
        let labels: i64 = r.try_get_by_index(7)?;
        let next = students.len() as u32;
        rows.push(CaseRow {
            student: *students.entry(student).or_insert(next),
            service: shared(r.try_get_by_index(1)?),
            status: shared(r.try_get_by_index(2)?),
            department: shared(r.try_get_by_index(3)?),
            risk: shared(r.try_get_by_index(4)?),
            month: table::month_of_seconds(opened)?,
            opened,
            closed: r.try_get_by_index(6)?,
            labels: u32::try_from(labels)
                .map_err(|_| AppError::internal("statistics", "label bits out of range"))?,
        });
    }
    Ok(rows)
}
