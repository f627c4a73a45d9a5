use sea_orm_migration::{prelude::*, schema::*};

/// The concern notice of a risk exception: what a department or university
/// service named in it is told (that there is a concern, what to do, whom to
/// contact in Student Support), instead of the student's details.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RiskException::Table)
                    .add_column(text_null(RiskException::ConcernNotice))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RiskException::Table)
                    .drop_column(RiskException::ConcernNotice)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum RiskException {
    Table,
    ConcernNotice,
}
