use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvent::Table)
                    .if_not_exists()
                    .col(pk_uuid(AuditEvent::Id))
                    .col(timestamp_with_time_zone(AuditEvent::OccurredAt))
                    .col(uuid(AuditEvent::ActorId))
                    .col(string(AuditEvent::ActorRole))
                    .col(uuid_null(AuditEvent::StudentId))
                    .col(string(AuditEvent::Action))
                    .col(json(AuditEvent::Fields))
                    .col(string(AuditEvent::Outcome))
                    .col(string_null(AuditEvent::Basis))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_student")
                    .table(AuditEvent::Table)
                    .col(AuditEvent::StudentId)
                    .col(AuditEvent::OccurredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_actor")
                    .table(AuditEvent::Table)
                    .col(AuditEvent::ActorId)
                    .col(AuditEvent::OccurredAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvent::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Id,
    OccurredAt,
    ActorId,
    ActorRole,
    StudentId,
    Action,
    Fields,
    Outcome,
    Basis,
}
