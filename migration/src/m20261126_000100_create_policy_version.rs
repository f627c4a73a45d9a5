use sea_orm_migration::{prelude::*, schema::*};

/// Policy versions stored in the database (issue 12, item 7): every instance
/// serves the latest one, polled every few seconds, so a policy change reaches
/// all of them without a restart. A version is written once (`confide policy
/// publish FILE`, which refuses a policy that does not load) and never edited;
/// the running version is named in responses and in every audit record.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PolicyVersion::Table)
                    .if_not_exists()
                    .col(big_integer(PolicyVersion::Id).primary_key())
                    .col(text(PolicyVersion::Body))
                    .col(string_len(PolicyVersion::Sha256, 64))
                    .col(timestamp_with_time_zone(PolicyVersion::PublishedAt))
                    .col(text(PolicyVersion::PublishedBy))
                    .col(text_null(PolicyVersion::Comment))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvent::Table)
                    .add_column(text_null(AuditEvent::PolicyVersion))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvent::Table)
                    .drop_column(AuditEvent::PolicyVersion)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(PolicyVersion::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PolicyVersion {
    Table,
    Id,
    Body,
    Sha256,
    PublishedAt,
    PublishedBy,
    Comment,
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    PolicyVersion,
}
