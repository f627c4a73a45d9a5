use sea_orm_migration::{prelude::*, schema::*};

/// University services (units such as accommodation): a caller of role
/// `university_service` names one by its code, and is refused while it is deactivated.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UniversityService::Table)
                    .if_not_exists()
                    .col(pk_uuid(UniversityService::Id))
                    .col(string_uniq(UniversityService::Code))
                    .col(string(UniversityService::Name))
                    .col(boolean(UniversityService::Active))
                    .col(timestamp_with_time_zone(UniversityService::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UniversityService::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UniversityService {
    Table,
    Id,
    Code,
    Name,
    Active,
    CreatedAt,
}
