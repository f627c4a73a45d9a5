use sea_orm_migration::{prelude::*, schema::*};

/// A request to erase a student's records (issue 10, items 5 and 6), made by
/// the student (or by the DPO on their behalf) and decided by the DPO: granted
/// (the student is destroyed, this row with them; the audit tombstone names
/// the request) or refused with a recorded reason.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ErasureRequest::Table)
                    .if_not_exists()
                    .col(pk_uuid(ErasureRequest::Id))
                    .col(uuid(ErasureRequest::StudentId))
                    .col(text_null(ErasureRequest::Grounds))
                    .col(uuid(ErasureRequest::RequestedBy))
                    .col(string(ErasureRequest::RequestedByRole))
                    .col(timestamp_with_time_zone(ErasureRequest::RequestedAt))
                    .col(string(ErasureRequest::Status))
                    .col(uuid_null(ErasureRequest::DecidedBy))
                    .col(timestamp_with_time_zone_null(ErasureRequest::DecidedAt))
                    .col(text_null(ErasureRequest::RefusalReason))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ErasureRequest::Table, ErasureRequest::StudentId)
                            .to(Student::Table, Student::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_erasure_request_student")
                    .table(ErasureRequest::Table)
                    .col(ErasureRequest::StudentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_erasure_request_status")
                    .table(ErasureRequest::Table)
                    .col(ErasureRequest::Status)
                    .col(ErasureRequest::RequestedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ErasureRequest::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ErasureRequest {
    Table,
    Id,
    StudentId,
    Grounds,
    RequestedBy,
    RequestedByRole,
    RequestedAt,
    Status,
    DecidedBy,
    DecidedAt,
    RefusalReason,
}

#[derive(DeriveIden)]
enum Student {
    Table,
    Id,
}
