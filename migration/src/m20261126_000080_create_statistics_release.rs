use sea_orm_migration::{prelude::*, schema::*};

/// The release ledger: every statistic released, to whom and when, with the
/// region it counts. A new query is protected against the caller's earlier
/// releases (so that two queries cannot be differenced), and the audit record
/// of each query names its release. Aggregates of at least the threshold
/// only: no student id, nothing the purge must remove.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StatisticsRelease::Table)
                    .if_not_exists()
                    .col(pk_uuid(StatisticsRelease::Id))
                    .col(uuid(StatisticsRelease::ReleaseId))
                    .col(uuid(StatisticsRelease::CallerId))
                    .col(timestamp_with_time_zone(StatisticsRelease::ReleasedAt))
                    .col(text(StatisticsRelease::Measure))
                    .col(text(StatisticsRelease::Region))
                    .col(big_integer(StatisticsRelease::Value))
                    .col(big_integer(StatisticsRelease::Students))
                    .col(big_integer(StatisticsRelease::Cases))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_statistics_release_caller")
                    .table(StatisticsRelease::Table)
                    .col(StatisticsRelease::CallerId)
                    .col(StatisticsRelease::ReleasedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StatisticsRelease::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StatisticsRelease {
    Table,
    Id,
    ReleaseId,
    CallerId,
    ReleasedAt,
    Measure,
    Region,
    Value,
    Students,
    Cases,
}
