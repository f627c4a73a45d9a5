use sea_orm_migration::{prelude::*, schema::*};

/// Rectification history (issue 10, item 3): one row per field of a student's
/// details whose value an update changed, with the previous and the new value,
/// who changed it (and in which role), when and why.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StudentChange::Table)
                    .if_not_exists()
                    .col(pk_uuid(StudentChange::Id))
                    .col(uuid(StudentChange::StudentId))
                    .col(string(StudentChange::Field))
                    .col(string(StudentChange::Category))
                    .col(text_null(StudentChange::OldValue))
                    .col(text_null(StudentChange::NewValue))
                    .col(uuid(StudentChange::ChangedBy))
                    .col(string(StudentChange::ChangedByRole))
                    .col(timestamp_with_time_zone(StudentChange::ChangedAt))
                    .col(text_null(StudentChange::Reason))
                    .foreign_key(
                        ForeignKey::create()
                            .from(StudentChange::Table, StudentChange::StudentId)
                            .to(Student::Table, Student::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_student_change_student")
                    .table(StudentChange::Table)
                    .col(StudentChange::StudentId)
                    .col(StudentChange::ChangedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StudentChange::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StudentChange {
    Table,
    Id,
    StudentId,
    Field,
    Category,
    OldValue,
    NewValue,
    ChangedBy,
    ChangedByRole,
    ChangedAt,
    Reason,
}

#[derive(DeriveIden)]
enum Student {
    Table,
    Id,
}
