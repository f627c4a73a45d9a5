use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Staff::Table)
                    .if_not_exists()
                    .col(pk_uuid(Staff::Id))
                    .col(string(Staff::Name))
                    .col(string_uniq(Staff::Email))
                    .col(string(Staff::Role))
                    .col(string_null(Staff::Service))
                    .col(string_null(Staff::Department))
                    .col(string_null(Staff::UniversityUnit))
                    .col(boolean(Staff::RegisteredMhp))
                    .col(boolean(Staff::Active))
                    .col(timestamp_with_time_zone(Staff::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_staff_role")
                    .table(Staff::Table)
                    .col(Staff::Role)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Staff::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Staff {
    Table,
    Id,
    Name,
    Email,
    Role,
    Service,
    Department,
    UniversityUnit,
    RegisteredMhp,
    Active,
    CreatedAt,
}
