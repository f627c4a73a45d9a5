use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Enrolment::Table)
                    .if_not_exists()
                    .col(pk_uuid(Enrolment::Id))
                    .col(uuid(Enrolment::StudentId))
                    .col(date(Enrolment::StartsOn))
                    .col(date_null(Enrolment::EndsOn))
                    .col(timestamp_with_time_zone(Enrolment::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_enrolment_student_id")
                            .from(Enrolment::Table, Enrolment::StudentId)
                            .to(Alias::new("student"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_enrolment_student")
                    .table(Enrolment::Table)
                    .col(Enrolment::StudentId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Enrolment::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Enrolment {
    Table,
    Id,
    StudentId,
    StartsOn,
    EndsOn,
    CreatedAt,
}
