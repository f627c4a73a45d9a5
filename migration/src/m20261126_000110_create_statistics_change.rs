use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

/// Which cases changed at each statistics version (issue 11, item 6): a server
/// keeping the statistics population in memory re-reads just those cases
/// after a write instead of the whole population.
///
/// Replaces the statement-level triggers of 000086 with row-level ones that,
/// in the writer's transaction, bump `statistics_version` (row 1) and insert
/// one `statistics_change` row per affected case (or student) carrying the new
/// version:
///
/// - `support_case` insert / update of a column statistics read: the case
///   (old and new id);
/// - `note` insert or delete of a labelled note, update of its case or
///   labels: the case(s);
/// - `student` insert / update of department or restriction: the student
///   (every case of theirs is read again);
/// - a delete of a case or a student, and (PostgreSQL) a TRUNCATE of any of the
///   three: a row with neither id, "read everything again". A deleted case's
///   or student's earlier change rows are deleted with it, so no id of an
///   erased student stays behind in this table.
///
/// `statistics_version` row 2 holds "pruned through": change rows with a
/// version at or below it may have been deleted (the server prunes them).
///
/// On PostgreSQL the bump is `UPDATE ... RETURNING`: the row lock on
/// `statistics_version` is held to the writer's commit, so versions commit in
/// order, and once a reader sees version V every change row <= V is visible.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns of each table an update of which may change the population.
const CASE_COLUMNS: &str = "id, student_id, service, status, opened_at, closed_at, risk_level";
const STUDENT_COLUMNS: &str = "id, department, processing_restricted";
const NOTE_COLUMNS: &str = "case_id, labels";

/// The triggers of 000086, recreated by `down`.
const OLD_WATCHED: [(&str, &str); 3] = [
    (
        "support_case",
        "student_id, service, status, opened_at, closed_at, risk_level",
    ),
    ("student", "id, department, processing_restricted"),
    ("note", "case_id, labels"),
];

/// A PostgreSQL trigger function body: bump, then run `then` with `v` the new version.
fn pg_function(name: &str, then: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ \
         DECLARE v BIGINT; BEGIN \
         UPDATE statistics_version SET version = version + 1 WHERE id = 1 RETURNING version INTO v; \
         {then} \
         RETURN NULL; END $$"
    )
}

fn change(v: &str, case: &str, student: &str) -> String {
    format!("INSERT INTO statistics_change (version, case_id, student_id) VALUES ({v}, {case}, {student});")
}

/// Neither id: every case is read again.
const PG_ALL: &str =
    "INSERT INTO statistics_change (version, case_id, student_id) VALUES (v, NULL, NULL);";

fn pg_up() -> Vec<String> {
    let mut s = Vec::new();
    // support_case
    s.push(pg_function(
        "statistics_change_case",
        &format!(
            "IF TG_OP = 'INSERT' THEN {ins} \
             ELSIF TG_OP = 'DELETE' THEN \
               DELETE FROM statistics_change WHERE case_id = OLD.id; {PG_ALL} \
             ELSE {old} IF NEW.id <> OLD.id THEN {new} END IF; END IF;",
            ins = change("v", "NEW.id", "NULL"),
            old = change("v", "OLD.id", "NULL"),
            new = change("v", "NEW.id", "NULL"),
        ),
    ));
    s.push(pg_function(
        "statistics_change_student",
        &format!(
            "IF TG_OP = 'INSERT' THEN {ins} \
             ELSIF TG_OP = 'DELETE' THEN \
               DELETE FROM statistics_change WHERE student_id = OLD.id; {PG_ALL} \
             ELSE {old} IF NEW.id <> OLD.id THEN {new} END IF; END IF;",
            ins = change("v", "NULL", "NEW.id"),
            old = change("v", "NULL", "OLD.id"),
            new = change("v", "NULL", "NEW.id"),
        ),
    ));
    s.push(pg_function(
        "statistics_change_note",
        &format!(
            "IF TG_OP = 'INSERT' THEN {ins} \
             ELSIF TG_OP = 'DELETE' THEN {del} \
             ELSE {old} IF NEW.case_id <> OLD.case_id THEN {new} END IF; END IF;",
            ins = change("v", "NEW.case_id", "NULL"),
            del = change("v", "OLD.case_id", "NULL"),
            old = change("v", "OLD.case_id", "NULL"),
            new = change("v", "NEW.case_id", "NULL"),
        ),
    ));
    s.push(pg_function("statistics_change_all", PG_ALL));
    let changed = |cols: &str, transform: &dyn Fn(&str, &str) -> String| {
        let list: Vec<&str> = cols.split(", ").collect();
        format!(
            "({}) IS DISTINCT FROM ({})",
            list.iter()
                .map(|c| transform("OLD", c))
                .collect::<Vec<_>>()
                .join(", "),
            list.iter()
                .map(|c| transform("NEW", c))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let plain = |row: &str, c: &str| format!("{row}.{c}");
    // `json` has no equality: labels are compared as text.
    let text = |row: &str, c: &str| format!("CAST({row}.{c} AS TEXT)");
    let labelled = |row: &str| format!("CAST({row}.labels AS TEXT) <> '[]'");
    for (table, function, cols, when_changed, insert_when, delete_when) in [
        (
            "support_case",
            "statistics_change_case",
            CASE_COLUMNS,
            changed(CASE_COLUMNS, &plain),
            None,
            None,
        ),
        (
            "student",
            "statistics_change_student",
            STUDENT_COLUMNS,
            changed(STUDENT_COLUMNS, &plain),
            None,
            None,
        ),
        (
            "note",
            "statistics_change_note",
            NOTE_COLUMNS,
            changed(NOTE_COLUMNS, &text),
            Some(labelled("NEW")),
            Some(labelled("OLD")),
        ),
    ] {
        let when = |w: Option<String>| w.map(|w| format!("WHEN ({w})")).unwrap_or_default();
        s.push(format!(
            "CREATE TRIGGER statistics_change_{table}_insert AFTER INSERT ON {table} \
             FOR EACH ROW {} EXECUTE FUNCTION {function}()",
            when(insert_when)
        ));
        s.push(format!(
            "CREATE TRIGGER statistics_change_{table}_delete AFTER DELETE ON {table} \
             FOR EACH ROW {} EXECUTE FUNCTION {function}()",
            when(delete_when)
        ));
        s.push(format!(
            "CREATE TRIGGER statistics_change_{table}_update AFTER UPDATE OF {cols} ON {table} \
             FOR EACH ROW WHEN ({when_changed}) EXECUTE FUNCTION {function}()"
        ));
        s.push(format!(
            "CREATE TRIGGER statistics_change_{table}_truncate AFTER TRUNCATE ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION statistics_change_all()"
        ));
    }
    s
}

/// A SQLite trigger: bump, then the inserts (`SELECT version ...` gives the new version).
fn sqlite_trigger(name: &str, event: &str, table: &str, when: &str, body: &[String]) -> String {
    let when = if when.is_empty() {
        String::new()
    } else {
        format!("WHEN {when}")
    };
    format!(
        "CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when} BEGIN \
         UPDATE statistics_version SET version = version + 1 WHERE id = 1; {} END",
        body.join(" ")
    )
}

fn sqlite_change(case: &str, student: &str, condition: &str) -> String {
    let condition = if condition.is_empty() {
        String::new()
    } else {
        format!(" AND {condition}")
    };
    format!(
        "INSERT INTO statistics_change (version, case_id, student_id) \
         SELECT version, {case}, {student} FROM statistics_version WHERE id = 1{condition};"
    )
}

fn sqlite_up() -> Vec<String> {
    let changed = |cols: &str| {
        cols.split(", ")
            .map(|c| format!("OLD.{c} IS NOT NEW.{c}"))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    vec![
        sqlite_trigger(
            "statistics_change_support_case_insert",
            "INSERT",
            "support_case",
            "",
            &[sqlite_change("NEW.id", "NULL", "")],
        ),
        sqlite_trigger(
            "statistics_change_support_case_delete",
            "DELETE",
            "support_case",
            "",
            &[
                "DELETE FROM statistics_change WHERE case_id = OLD.id;".to_owned(),
                sqlite_change("NULL", "NULL", ""),
            ],
        ),
        sqlite_trigger(
            "statistics_change_support_case_update",
            &format!("UPDATE OF {CASE_COLUMNS}"),
            "support_case",
            &changed(CASE_COLUMNS),
            &[
                sqlite_change("OLD.id", "NULL", ""),
                sqlite_change("NEW.id", "NULL", "NEW.id IS NOT OLD.id"),
            ],
        ),
        sqlite_trigger(
            "statistics_change_student_insert",
            "INSERT",
            "student",
            "",
            &[sqlite_change("NULL", "NEW.id", "")],
        ),
        sqlite_trigger(
            "statistics_change_student_delete",
            "DELETE",
            "student",
            "",
            &[
                "DELETE FROM statistics_change WHERE student_id = OLD.id;".to_owned(),
                sqlite_change("NULL", "NULL", ""),
            ],
        ),
        sqlite_trigger(
            "statistics_change_student_update",
            &format!("UPDATE OF {STUDENT_COLUMNS}"),
            "student",
            &changed(STUDENT_COLUMNS),
            &[
                sqlite_change("NULL", "OLD.id", ""),
                sqlite_change("NULL", "NEW.id", "NEW.id IS NOT OLD.id"),
            ],
        ),
        sqlite_trigger(
            "statistics_change_note_insert",
            "INSERT",
            "note",
            "CAST(NEW.labels AS TEXT) <> '[]'",
            &[sqlite_change("NEW.case_id", "NULL", "")],
        ),
        sqlite_trigger(
            "statistics_change_note_delete",
            "DELETE",
            "note",
            "CAST(OLD.labels AS TEXT) <> '[]'",
            &[sqlite_change("OLD.case_id", "NULL", "")],
        ),
        sqlite_trigger(
            "statistics_change_note_update",
            &format!("UPDATE OF {NOTE_COLUMNS}"),
            "note",
            &changed(NOTE_COLUMNS),
            &[
                sqlite_change("OLD.case_id", "NULL", ""),
                sqlite_change("NEW.case_id", "NULL", "NEW.case_id IS NOT OLD.case_id"),
            ],
        ),
    ]
}

const TABLES: [&str; 3] = ["support_case", "student", "note"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StatisticsChange::Table)
                    .if_not_exists()
                    .col(big_integer(StatisticsChange::Version))
                    .col(uuid_null(StatisticsChange::CaseId))
                    .col(uuid_null(StatisticsChange::StudentId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_statistics_change_version")
                    .table(StatisticsChange::Table)
                    .col(StatisticsChange::Version)
                    .to_owned(),
            )
            .await?;
        // A deleted case's or student's change rows are found by these.
        for (name, col) in [
            ("idx_statistics_change_case", StatisticsChange::CaseId),
            ("idx_statistics_change_student", StatisticsChange::StudentId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(StatisticsChange::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        // Row 2: pruned through (nothing pruned yet, and no change row before now).
        db.execute_unprepared(
            "INSERT INTO statistics_version (id, version) \
             SELECT 2, version FROM statistics_version WHERE id = 1",
        )
        .await?;
        let statements = match manager.get_database_backend() {
            DbBackend::Postgres => {
                for (table, _) in OLD_WATCHED {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS statistics_version_{table} ON {table}"
                    ))
                    .await?;
                }
                db.execute_unprepared("DROP FUNCTION IF EXISTS statistics_version_bump()")
                    .await?;
                pg_up()
            }
            _ => {
                for (table, _) in OLD_WATCHED {
                    for name in ["insert", "delete", "update"] {
                        db.execute_unprepared(&format!(
                            "DROP TRIGGER IF EXISTS statistics_version_{table}_{name}"
                        ))
                        .await?;
                    }
                }
                sqlite_up()
            }
        };
        for s in statements {
            db.execute_unprepared(&s).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                for table in TABLES {
                    for name in ["insert", "delete", "update", "truncate"] {
                        db.execute_unprepared(&format!(
                            "DROP TRIGGER IF EXISTS statistics_change_{table}_{name} ON {table}"
                        ))
                        .await?;
                    }
                }
                for f in ["case", "student", "note", "all"] {
                    db.execute_unprepared(&format!(
                        "DROP FUNCTION IF EXISTS statistics_change_{f}()"
                    ))
                    .await?;
                }
                // The triggers of 000086.
                db.execute_unprepared(
                    "CREATE OR REPLACE FUNCTION statistics_version_bump() RETURNS trigger \
                     LANGUAGE plpgsql AS $$ BEGIN \
                     UPDATE statistics_version SET version = version + 1 WHERE id = 1; \
                     RETURN NULL; END $$",
                )
                .await?;
                for (table, columns) in OLD_WATCHED {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER statistics_version_{table} \
                         AFTER INSERT OR DELETE OR UPDATE OF {columns} OR TRUNCATE ON {table} \
                         FOR EACH STATEMENT EXECUTE FUNCTION statistics_version_bump()"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in TABLES {
                    for name in ["insert", "delete", "update"] {
                        db.execute_unprepared(&format!(
                            "DROP TRIGGER IF EXISTS statistics_change_{table}_{name}"
                        ))
                        .await?;
                    }
                }
                for (table, columns) in OLD_WATCHED {
                    for (name, event) in [
                        ("insert", "INSERT".to_owned()),
                        ("delete", "DELETE".to_owned()),
                        ("update", format!("UPDATE OF {columns}")),
                    ] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER statistics_version_{table}_{name} \
                             AFTER {event} ON {table} \
                             BEGIN UPDATE statistics_version SET version = version + 1 \
                             WHERE id = 1; END"
                        ))
                        .await?;
                    }
                }
            }
        }
        db.execute_unprepared("DELETE FROM statistics_version WHERE id = 2")
            .await?;
        manager
            .drop_table(Table::drop().table(StatisticsChange::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StatisticsChange {
    Table,
    Version,
    CaseId,
    StudentId,
}
