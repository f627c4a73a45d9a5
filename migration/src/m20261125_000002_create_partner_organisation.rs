use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PartnerOrganisation::Table)
                    .if_not_exists()
                    .col(pk_uuid(PartnerOrganisation::Id))
                    .col(string(PartnerOrganisation::Name))
                    .col(string(PartnerOrganisation::Kind))
                    .col(boolean(PartnerOrganisation::Active))
                    .col(timestamp_with_time_zone(PartnerOrganisation::CreatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PartnerOrganisation::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PartnerOrganisation {
    Table,
    Id,
    Name,
    Kind,
    Active,
    CreatedAt,
}
