use sea_orm_migration::{prelude::*, schema::*};

/// An item of a subject access request (a case or a note) flagged by the DPO
/// for a health professional's serious-harm judgement, and that judgement: the
/// professional's name, opinion, the date they judged, and the outcome
/// (`withhold`: likely to cause serious harm; `staff_present`: to be shown only
/// with staff present; `release`). Pending while the outcome is null.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SeriousHarmReview::Table)
                    .if_not_exists()
                    .col(pk_uuid(SeriousHarmReview::Id))
                    .col(uuid(SeriousHarmReview::RequestId))
                    .col(uuid(SeriousHarmReview::StudentId))
                    .col(text(SeriousHarmReview::ItemKind))
                    .col(uuid(SeriousHarmReview::ItemId))
                    .col(uuid(SeriousHarmReview::FlaggedBy))
                    .col(timestamp_with_time_zone(SeriousHarmReview::FlaggedAt))
                    .col(text_null(SeriousHarmReview::ProfessionalName))
                    .col(text_null(SeriousHarmReview::Opinion))
                    .col(date_null(SeriousHarmReview::JudgedOn))
                    .col(text_null(SeriousHarmReview::Outcome))
                    .col(uuid_null(SeriousHarmReview::RecordedBy))
                    .col(timestamp_with_time_zone_null(SeriousHarmReview::RecordedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SeriousHarmReview::Table, SeriousHarmReview::RequestId)
                            .to(SubjectAccessRequest::Table, SubjectAccessRequest::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_serious_harm_review_item")
                    .table(SeriousHarmReview::Table)
                    .col(SeriousHarmReview::RequestId)
                    .col(SeriousHarmReview::ItemKind)
                    .col(SeriousHarmReview::ItemId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SeriousHarmReview::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SeriousHarmReview {
    Table,
    Id,
    RequestId,
    StudentId,
    ItemKind,
    ItemId,
    FlaggedBy,
    FlaggedAt,
    ProfessionalName,
    Opinion,
    JudgedOn,
    Outcome,
    RecordedBy,
    RecordedAt,
}

#[derive(DeriveIden)]
enum SubjectAccessRequest {
    Table,
    Id,
}
