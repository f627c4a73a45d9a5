use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Consent::Table)
                    .if_not_exists()
                    .col(pk_uuid(Consent::Id))
                    .col(uuid(Consent::StudentId))
                    .col(string(Consent::RecipientKind))
                    .col(string_null(Consent::RecipientRef))
                    .col(json(Consent::Categories))
                    .col(json(Consent::ExcludedLabels))
                    .col(uuid_null(Consent::CaseId))
                    .col(text(Consent::Purpose))
                    .col(timestamp_with_time_zone(Consent::GivenAt))
                    .col(timestamp_with_time_zone_null(Consent::ExpiresAt))
                    .col(string_null(Consent::FormReference))
                    .col(uuid(Consent::RecordedBy))
                    .col(string(Consent::RecordedByRole))
                    .col(timestamp_with_time_zone_null(Consent::WithdrawnAt))
                    .col(uuid_null(Consent::WithdrawnBy))
                    .col(text_null(Consent::WithdrawalReason))
                    .col(timestamp_with_time_zone(Consent::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consent_student_id")
                            .from(Consent::Table, Consent::StudentId)
                            .to(Alias::new("student"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consent_case_id")
                            .from(Consent::Table, Consent::CaseId)
                            .to(Alias::new("support_case"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consent_student")
                    .table(Consent::Table)
                    .col(Consent::StudentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consent_recipient")
                    .table(Consent::Table)
                    .col(Consent::RecipientKind)
                    .col(Consent::RecipientRef)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Consent::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Consent {
    Table,
    Id,
    StudentId,
    RecipientKind,
    RecipientRef,
    Categories,
    ExcludedLabels,
    CaseId,
    Purpose,
    GivenAt,
    ExpiresAt,
    FormReference,
    RecordedBy,
    RecordedByRole,
    WithdrawnAt,
    WithdrawnBy,
    WithdrawalReason,
    CreatedAt,
}
