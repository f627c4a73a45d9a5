use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Student::Table)
                    .if_not_exists()
                    .col(pk_uuid(Student::Id))
                    .col(string_uniq(Student::StudentNumber))
                    .col(string(Student::Name))
                    .col(string_null(Student::PreferredName))
                    .col(string(Student::Email))
                    .col(string_null(Student::Phone))
                    .col(string_null(Student::TermAddress))
                    .col(string_null(Student::HomeAddress))
                    .col(date_null(Student::DateOfBirth))
                    .col(string(Student::Department))
                    .col(string(Student::Course))
                    .col(string_null(Student::EmergencyContact))
                    .col(string_null(Student::GpPractice))
                    .col(boolean(Student::ProcessingRestricted))
                    .col(timestamp_with_time_zone(Student::CreatedAt))
                    .col(timestamp_with_time_zone(Student::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_student_department")
                    .table(Student::Table)
                    .col(Student::Department)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_student_name")
                    .table(Student::Table)
                    .col(Student::Name)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Student::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
#[allow(clippy::enum_variant_names)]
enum Student {
    Table,
    Id,
    StudentNumber,
    Name,
    PreferredName,
    Email,
    Phone,
    TermAddress,
    HomeAddress,
    DateOfBirth,
    Department,
    Course,
    EmergencyContact,
    GpPractice,
    ProcessingRestricted,
    CreatedAt,
    UpdatedAt,
}
