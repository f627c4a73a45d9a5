use sea_orm_migration::{prelude::*, schema::*};

/// One research extract (issue 11, item 3): who made it, when, with which k,
/// how many rows and students it released, how many rows it suppressed and
/// the generalisation level of each quasi-identifier (JSON). No student id,
/// no pseudonym: the rows themselves are not stored. The id is the extract's
/// pseudonym salt (with the DPO's key, the only way back to a student).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ResearchExtract::Table)
                    .if_not_exists()
                    .col(pk_uuid(ResearchExtract::Id))
                    .col(uuid(ResearchExtract::CreatedBy))
                    .col(text(ResearchExtract::CreatedByRole))
                    .col(timestamp_with_time_zone(ResearchExtract::CreatedAt))
                    .col(integer(ResearchExtract::K))
                    .col(integer(ResearchExtract::Rows))
                    .col(integer(ResearchExtract::Students))
                    .col(integer(ResearchExtract::SuppressedRows))
                    .col(json(ResearchExtract::Generalisation))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ResearchExtract::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ResearchExtract {
    Table,
    Id,
    CreatedBy,
    CreatedByRole,
    CreatedAt,
    K,
    Rows,
    Students,
    SuppressedRows,
    Generalisation,
}
