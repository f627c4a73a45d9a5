use sea_orm_migration::{prelude::*, schema::*};

/// One row per recipient of a risk exception, so that row visibility can be
/// decided in SQL on both SQLite and PostgreSQL.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RiskExceptionRecipient::Table)
                    .if_not_exists()
                    .col(pk_uuid(RiskExceptionRecipient::Id))
                    .col(uuid(RiskExceptionRecipient::RiskExceptionId))
                    .col(uuid(RiskExceptionRecipient::StudentId))
                    .col(string(RiskExceptionRecipient::RecipientKind))
                    .col(string_null(RiskExceptionRecipient::RecipientRef))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_rer_exception")
                            .from(
                                RiskExceptionRecipient::Table,
                                RiskExceptionRecipient::RiskExceptionId,
                            )
                            .to(Alias::new("risk_exception"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rer_recipient")
                    .table(RiskExceptionRecipient::Table)
                    .col(RiskExceptionRecipient::RecipientKind)
                    .col(RiskExceptionRecipient::RecipientRef)
                    .col(RiskExceptionRecipient::StudentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consent_recipient_student")
                    .table(Alias::new("consent"))
                    .col(Alias::new("recipient_kind"))
                    .col(Alias::new("recipient_ref"))
                    .col(Alias::new("student_id"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(RiskExceptionRecipient::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum RiskExceptionRecipient {
    Table,
    Id,
    RiskExceptionId,
    StudentId,
    RecipientKind,
    RecipientRef,
}
