use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

/// The audit trail is append-only in the database itself: triggers refuse
/// every UPDATE and DELETE of `audit_event`, whoever issues it. (Someone who
/// can drop the triggers can still edit the table; `confide audit verify`
/// finds what they changed.)
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger \
                     LANGUAGE plpgsql AS $$ BEGIN \
                     RAISE EXCEPTION 'audit_event is append-only'; \
                     END $$",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_event_append_only \
                     BEFORE UPDATE OR DELETE ON audit_event \
                     FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
                )
                .await?;
                // TRUNCATE bypasses row triggers.
                db.execute_unprepared(
                    "CREATE TRIGGER audit_event_no_truncate \
                     BEFORE TRUNCATE ON audit_event \
                     FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
                )
                .await?;
            }
            _ => {
                for verb in ["UPDATE", "DELETE"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER audit_event_no_{} BEFORE {verb} ON audit_event \
                         BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
                        verb.to_lowercase()
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
                )
                .await?;
                db.execute_unprepared(
                    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
                )
                .await?;
                db.execute_unprepared("DROP FUNCTION IF EXISTS audit_event_append_only()")
                    .await?;
            }
            _ => {
                db.execute_unprepared("DROP TRIGGER IF EXISTS audit_event_no_update")
                    .await?;
                db.execute_unprepared("DROP TRIGGER IF EXISTS audit_event_no_delete")
                    .await?;
            }
        }
        Ok(())
    }
}
