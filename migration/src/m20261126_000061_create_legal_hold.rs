use sea_orm_migration::{prelude::*, schema::*};

/// A legal hold on a student's records (issue 10, item 5), placed by the DPO
/// with a reason: while one is active (not lifted) nothing of the student is
/// destroyed, by the retention purge or by a granted erasure request.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LegalHold::Table)
                    .if_not_exists()
                    .col(pk_uuid(LegalHold::Id))
                    .col(uuid(LegalHold::StudentId))
                    .col(text(LegalHold::Reason))
                    .col(uuid(LegalHold::PlacedBy))
                    .col(timestamp_with_time_zone(LegalHold::PlacedAt))
                    .col(uuid_null(LegalHold::LiftedBy))
                    .col(timestamp_with_time_zone_null(LegalHold::LiftedAt))
                    .col(text_null(LegalHold::LiftReason))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LegalHold::Table, LegalHold::StudentId)
                            .to(Student::Table, Student::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_legal_hold_student")
                    .table(LegalHold::Table)
                    .col(LegalHold::StudentId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LegalHold::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LegalHold {
    Table,
    Id,
    StudentId,
    Reason,
    PlacedBy,
    PlacedAt,
    LiftedBy,
    LiftedAt,
    LiftReason,
}

#[derive(DeriveIden)]
enum Student {
    Table,
    Id,
}
