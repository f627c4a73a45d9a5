use sea_orm_migration::{prelude::*, schema::*};

/// A disclosure made outside the API (by phone to an emergency contact, to a
/// GP), logged by `recordDisclosure`: to whom and how are kept here, so that
/// its audit record carries only ids (the purge deletes this row with the
/// student; the audit trail cannot be edited).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DisclosureRecord::Table)
                    .if_not_exists()
                    .col(pk_uuid(DisclosureRecord::Id))
                    .col(uuid(DisclosureRecord::StudentId))
                    .col(text(DisclosureRecord::Recipient))
                    .col(text(DisclosureRecord::Method))
                    .col(timestamp_with_time_zone(DisclosureRecord::OccurredAt))
                    .col(uuid(DisclosureRecord::RecordedBy))
                    .col(timestamp_with_time_zone(DisclosureRecord::RecordedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DisclosureRecord::Table, DisclosureRecord::StudentId)
                            .to(Student::Table, Student::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_disclosure_record_student")
                    .table(DisclosureRecord::Table)
                    .col(DisclosureRecord::StudentId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DisclosureRecord::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DisclosureRecord {
    Table,
    Id,
    StudentId,
    Recipient,
    Method,
    OccurredAt,
    RecordedBy,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Student {
    Table,
    Id,
}
