use sea_orm_migration::prelude::*;

/// One row that `/readyz` writes to: the server is ready only while the
/// database takes a write (a locked or full SQLite file, a read-only replica or
/// a failed disk answer 503 until they recover).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReadinessProbe::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ReadinessProbe::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ReadinessProbe::Writes)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("INSERT INTO readiness_probe (id, writes) VALUES (1, 0)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReadinessProbe::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ReadinessProbe {
    Table,
    Id,
    Writes,
}
