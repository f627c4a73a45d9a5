use sea_orm_migration::{prelude::*, schema::*};

/// Academic departments: a department caller (a `staff` row of role
/// `department`) names one by its code, and is refused while it is deactivated.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Department::Table)
                    .if_not_exists()
                    .col(pk_uuid(Department::Id))
                    .col(string_uniq(Department::Code))
                    .col(string(Department::Name))
                    .col(boolean(Department::Active))
                    .col(timestamp_with_time_zone(Department::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Department::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Department {
    Table,
    Id,
    Code,
    Name,
    Active,
    CreatedAt,
}
