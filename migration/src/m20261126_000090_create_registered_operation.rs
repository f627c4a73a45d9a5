use sea_orm_migration::{prelude::*, schema::*};

/// Registered (persisted) operations (issue 12, item 3): the only documents
/// departments, university services and partners may run, by the SHA-256 of
/// their text, with the field classes each can return (computed at
/// registration), listed by the DPO.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RegisteredOperation::Table)
                    .if_not_exists()
                    .col(pk_uuid(RegisteredOperation::Id))
                    .col(string_len_uniq(RegisteredOperation::Sha256, 64))
                    .col(text_null(RegisteredOperation::Name))
                    .col(text(RegisteredOperation::Document))
                    // Comma-separated field classes (FieldClass codes), sorted.
                    .col(text(RegisteredOperation::FieldClasses))
                    .col(text(RegisteredOperation::RegisteredBy))
                    .col(timestamp_with_time_zone(RegisteredOperation::RegisteredAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RegisteredOperation::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RegisteredOperation {
    Table,
    Id,
    Sha256,
    Name,
    Document,
    FieldClasses,
    RegisteredBy,
    RegisteredAt,
}
