use sea_orm_migration::{prelude::*, schema::*};

/// The subject (`sub`) a partner organisation's identity provider puts in its
/// tokens: a partner authenticates with it instead of Confide's internal id.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PartnerOrganisation::Table)
                    .add_column(string_null(PartnerOrganisation::IdpSubject))
                    .to_owned(),
            )
            .await?;
        // Unique where set (NULLs never collide, on SQLite and PostgreSQL).
        manager
            .create_index(
                Index::create()
                    .name("idx_partner_organisation_idp_subject")
                    .table(PartnerOrganisation::Table)
                    .col(PartnerOrganisation::IdpSubject)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_partner_organisation_idp_subject")
                    .table(PartnerOrganisation::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PartnerOrganisation::Table)
                    .drop_column(PartnerOrganisation::IdpSubject)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum PartnerOrganisation {
    Table,
    IdpSubject,
}
