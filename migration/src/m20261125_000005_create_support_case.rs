use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SupportCase::Table)
                    .if_not_exists()
                    .col(pk_uuid(SupportCase::Id))
                    .col(uuid(SupportCase::StudentId))
                    .col(string(SupportCase::Service))
                    .col(string(SupportCase::Status))
                    .col(timestamp_with_time_zone(SupportCase::OpenedAt))
                    .col(timestamp_with_time_zone_null(SupportCase::ClosedAt))
                    .col(uuid_null(SupportCase::AssignedTo))
                    .col(text_null(SupportCase::Summary))
                    .col(text_null(SupportCase::Adjustments))
                    .col(string(SupportCase::RiskLevel))
                    .col(timestamp_with_time_zone(SupportCase::CreatedAt))
                    .col(timestamp_with_time_zone(SupportCase::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_support_case_student_id")
                            .from(SupportCase::Table, SupportCase::StudentId)
                            .to(Alias::new("student"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_support_case_assigned_to")
                            .from(SupportCase::Table, SupportCase::AssignedTo)
                            .to(Alias::new("staff"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_case_student")
                    .table(SupportCase::Table)
                    .col(SupportCase::StudentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_case_service_status")
                    .table(SupportCase::Table)
                    .col(SupportCase::Service)
                    .col(SupportCase::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_case_assigned")
                    .table(SupportCase::Table)
                    .col(SupportCase::AssignedTo)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_case_opened")
                    .table(SupportCase::Table)
                    .col(SupportCase::OpenedAt)
                    .col(SupportCase::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_case_risk")
                    .table(SupportCase::Table)
                    .col(SupportCase::RiskLevel)
                    .col(SupportCase::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SupportCase::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SupportCase {
    Table,
    Id,
    StudentId,
    Service,
    Status,
    OpenedAt,
    ClosedAt,
    AssignedTo,
    Summary,
    Adjustments,
    RiskLevel,
    CreatedAt,
    UpdatedAt,
}
