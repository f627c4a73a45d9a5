use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Note::Table)
                    .if_not_exists()
                    .col(pk_uuid(Note::Id))
                    .col(uuid(Note::CaseId))
                    .col(string(Note::Kind))
                    .col(timestamp_with_time_zone(Note::OccurredAt))
                    .col(uuid(Note::AuthorId))
                    .col(text(Note::Body))
                    .col(json(Note::Labels))
                    .col(timestamp_with_time_zone(Note::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_note_case_id")
                            .from(Note::Table, Note::CaseId)
                            .to(Alias::new("support_case"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_note_author_id")
                            .from(Note::Table, Note::AuthorId)
                            .to(Alias::new("staff"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_note_case")
                    .table(Note::Table)
                    .col(Note::CaseId)
                    .col(Note::OccurredAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Note::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Note {
    Table,
    Id,
    CaseId,
    Kind,
    OccurredAt,
    AuthorId,
    Body,
    Labels,
    CreatedAt,
}
