use sea_orm_migration::{prelude::*, schema::*};

/// A disclosure made at once in a life-threatening emergency (to an ambulance,
/// the emergency contact), recorded by the practitioner who made it, with the
/// review a different registered professional must complete by its due date.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmergencyDisclosure::Table)
                    .if_not_exists()
                    .col(pk_uuid(EmergencyDisclosure::Id))
                    .col(uuid(EmergencyDisclosure::StudentId))
                    .col(uuid(EmergencyDisclosure::DisclosedBy))
                    .col(string(EmergencyDisclosure::Recipient))
                    .col(string(EmergencyDisclosure::Method))
                    .col(json(EmergencyDisclosure::Categories))
                    .col(text(EmergencyDisclosure::Reason))
                    .col(timestamp_with_time_zone(EmergencyDisclosure::OccurredAt))
                    .col(timestamp_with_time_zone(EmergencyDisclosure::ReviewDueAt))
                    .col(uuid_null(EmergencyDisclosure::ReviewedBy))
                    .col(timestamp_with_time_zone_null(
                        EmergencyDisclosure::ReviewedAt,
                    ))
                    .col(text_null(EmergencyDisclosure::ReviewOutcome))
                    .col(timestamp_with_time_zone_null(
                        EmergencyDisclosure::StudentInformedAt,
                    ))
                    .col(text_null(EmergencyDisclosure::NotInformedReason))
                    .col(timestamp_with_time_zone(EmergencyDisclosure::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmergencyDisclosure::Table, EmergencyDisclosure::StudentId)
                            .to(Student::Table, Student::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_emergency_disclosure_student")
                    .table(EmergencyDisclosure::Table)
                    .col(EmergencyDisclosure::StudentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_emergency_disclosure_review_due")
                    .table(EmergencyDisclosure::Table)
                    .col(EmergencyDisclosure::ReviewDueAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmergencyDisclosure::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EmergencyDisclosure {
    Table,
    Id,
    StudentId,
    DisclosedBy,
    Recipient,
    Method,
    Categories,
    Reason,
    OccurredAt,
    ReviewDueAt,
    ReviewedBy,
    ReviewedAt,
    ReviewOutcome,
    StudentInformedAt,
    NotInformedReason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Student {
    Table,
    Id,
}
