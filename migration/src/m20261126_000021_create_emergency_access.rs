use sea_orm_migration::{prelude::*, schema::*};

/// Break-glass: a practitioner's time-boxed emergency read of one case outside
/// their service, with its reason and the review the case's service lead owes.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmergencyAccess::Table)
                    .if_not_exists()
                    .col(pk_uuid(EmergencyAccess::Id))
                    .col(uuid(EmergencyAccess::CaseId))
                    .col(uuid(EmergencyAccess::StudentId))
                    .col(uuid(EmergencyAccess::StaffId))
                    .col(string(EmergencyAccess::Service))
                    .col(text(EmergencyAccess::Reason))
                    .col(timestamp_with_time_zone(EmergencyAccess::OpenedAt))
                    .col(timestamp_with_time_zone(EmergencyAccess::ExpiresAt))
                    .col(uuid_null(EmergencyAccess::ReviewedBy))
                    .col(timestamp_with_time_zone_null(EmergencyAccess::ReviewedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_emergency_access_staff")
                    .table(EmergencyAccess::Table)
                    .col(EmergencyAccess::StaffId)
                    .col(EmergencyAccess::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmergencyAccess::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EmergencyAccess {
    Table,
    Id,
    CaseId,
    StudentId,
    StaffId,
    Service,
    Reason,
    OpenedAt,
    ExpiresAt,
    ReviewedBy,
    ReviewedAt,
}
