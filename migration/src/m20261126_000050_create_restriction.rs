use sea_orm_migration::{prelude::*, schema::*};

/// A restriction of processing (issue 10, item 4), recorded by the DPO: why,
/// by whom and when; when the student was notified; who lifted it, when and
/// why. While one is open the student's `processing_restricted` flag is set.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Restriction::Table)
                    .if_not_exists()
                    .col(pk_uuid(Restriction::Id))
                    .col(uuid(Restriction::StudentId))
                    .col(text(Restriction::Reason))
                    .col(uuid(Restriction::RestrictedBy))
                    .col(timestamp_with_time_zone(Restriction::RestrictedAt))
                    .col(timestamp_with_time_zone_null(
                        Restriction::StudentNotifiedAt,
                    ))
                    .col(uuid_null(Restriction::LiftedBy))
                    .col(timestamp_with_time_zone_null(Restriction::LiftedAt))
                    .col(text_null(Restriction::LiftReason))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Restriction::Table, Restriction::StudentId)
                            .to(Student::Table, Student::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_restriction_student")
                    .table(Restriction::Table)
                    .col(Restriction::StudentId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Restriction::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Restriction {
    Table,
    Id,
    StudentId,
    Reason,
    RestrictedBy,
    RestrictedAt,
    StudentNotifiedAt,
    LiftedBy,
    LiftedAt,
    LiftReason,
}

#[derive(DeriveIden)]
enum Student {
    Table,
    Id,
}
