use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RiskException::Table)
                    .if_not_exists()
                    .col(pk_uuid(RiskException::Id))
                    .col(uuid(RiskException::StudentId))
                    .col(string(RiskException::Ground))
                    .col(string(RiskException::StudentPosition))
                    .col(json(RiskException::Recipients))
                    .col(json(RiskException::Categories))
                    .col(text(RiskException::Justification))
                    .col(uuid(RiskException::ProposedBy))
                    .col(timestamp_with_time_zone(RiskException::ProposedAt))
                    .col(uuid_null(RiskException::ConfirmedBy))
                    .col(timestamp_with_time_zone_null(RiskException::ConfirmedAt))
                    .col(timestamp_with_time_zone(RiskException::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RiskException::RevokedAt))
                    .col(uuid_null(RiskException::RevokedBy))
                    .col(timestamp_with_time_zone_null(
                        RiskException::StudentInformedAt,
                    ))
                    .col(text_null(RiskException::NotInformedReason))
                    .col(timestamp_with_time_zone(RiskException::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_risk_exception_student_id")
                            .from(RiskException::Table, RiskException::StudentId)
                            .to(Alias::new("student"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_risk_exception_proposed_by")
                            .from(RiskException::Table, RiskException::ProposedBy)
                            .to(Alias::new("staff"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_risk_exception_student")
                    .table(RiskException::Table)
                    .col(RiskException::StudentId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RiskException::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RiskException {
    Table,
    Id,
    StudentId,
    Ground,
    StudentPosition,
    Recipients,
    Categories,
    Justification,
    ProposedBy,
    ProposedAt,
    ConfirmedBy,
    ConfirmedAt,
    ExpiresAt,
    RevokedAt,
    RevokedBy,
    StudentInformedAt,
    NotInformedReason,
    CreatedAt,
}
