use sea_orm_migration::{prelude::*, schema::*};

/// What changed about a student, by field class: the partner feed signals a
/// student to a recipient only when something of a class that recipient can
/// read changed (a note: only when the recipient would see that note).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChangeEvent::Table)
                    .if_not_exists()
                    .col(pk_uuid(ChangeEvent::Id))
                    .col(uuid(ChangeEvent::StudentId))
                    .col(uuid_null(ChangeEvent::CaseId))
                    .col(string(ChangeEvent::Class))
                    .col(json(ChangeEvent::Labels))
                    .col(timestamp_with_time_zone(ChangeEvent::OccurredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_change_event_student")
                    .table(ChangeEvent::Table)
                    .col(ChangeEvent::StudentId)
                    .col(ChangeEvent::OccurredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_change_event_time")
                    .table(ChangeEvent::Table)
                    .col(ChangeEvent::OccurredAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ChangeEvent::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ChangeEvent {
    Table,
    Id,
    StudentId,
    CaseId,
    Class,
    Labels,
    OccurredAt,
}
