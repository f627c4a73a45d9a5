use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

/// A version of the data statistics are computed from (issue 11, item 6).
/// Triggers in the database itself bump it whenever a case, a student's
/// department or restriction, or a note's labels change, whoever writes them
/// (the services, the seed, a migration, an operator with psql). A server may
/// keep the statistics population in memory while the version it read it at
/// is still the current one; any change makes the next query read it anew.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, what bumps the version on it). `UPDATE OF` lists the columns
/// statistics read: an update of anything else leaves the population as it is.
const WATCHED: [(&str, &str); 3] = [
    (
        "support_case",
        "student_id, service, status, opened_at, closed_at, risk_level",
    ),
    ("student", "id, department, processing_restricted"),
    ("note", "case_id, labels"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StatisticsVersion::Table)
                    .if_not_exists()
                    .col(integer(StatisticsVersion::Id).primary_key())
                    .col(big_integer(StatisticsVersion::Version))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("INSERT INTO statistics_version (id, version) VALUES (1, 0)")
            .await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE OR REPLACE FUNCTION statistics_version_bump() RETURNS trigger \
                     LANGUAGE plpgsql AS $$ BEGIN \
                     UPDATE statistics_version SET version = version + 1 WHERE id = 1; \
                     RETURN NULL; END $$",
                )
                .await?;
                for (table, columns) in WATCHED {
                    // Once per statement, however many rows it touches.
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER statistics_version_{table} \
                         AFTER INSERT OR DELETE OR UPDATE OF {columns} OR TRUNCATE ON {table} \
                         FOR EACH STATEMENT EXECUTE FUNCTION statistics_version_bump()"
                    ))
                    .await?;
                }
            }
            _ => {
                // Reading the population groups the labelled notes by case:
                // this index covers it, so SQLite reads no note body.
                // (PostgreSQL has no b-tree over `json`, and needs none.)
                db.execute_unprepared(
                    "CREATE INDEX IF NOT EXISTS idx_note_case_labels ON note (case_id, labels)",
                )
                .await?;
                for (table, columns) in WATCHED {
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
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                for (table, _) in WATCHED {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS statistics_version_{table} ON {table}"
                    ))
                    .await?;
                }
                db.execute_unprepared("DROP FUNCTION IF EXISTS statistics_version_bump()")
                    .await?;
            }
            _ => {
                db.execute_unprepared("DROP INDEX IF EXISTS idx_note_case_labels")
                    .await?;
                for (table, _) in WATCHED {
                    for name in ["insert", "delete", "update"] {
                        db.execute_unprepared(&format!(
                            "DROP TRIGGER IF EXISTS statistics_version_{table}_{name}"
                        ))
                        .await?;
                    }
                }
            }
        }
        manager
            .drop_table(Table::drop().table(StatisticsVersion::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StatisticsVersion {
    Table,
    Id,
    Version,
}
