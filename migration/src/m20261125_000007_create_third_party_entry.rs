use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ThirdPartyEntry::Table)
                    .if_not_exists()
                    .col(pk_uuid(ThirdPartyEntry::Id))
                    .col(uuid(ThirdPartyEntry::CaseId))
                    .col(string(ThirdPartyEntry::Source))
                    .col(string(ThirdPartyEntry::Subject))
                    .col(text(ThirdPartyEntry::Body))
                    .col(boolean(ThirdPartyEntry::ThirdPartyConsented))
                    .col(text_null(ThirdPartyEntry::DisclosureJustification))
                    .col(uuid(ThirdPartyEntry::RecordedBy))
                    .col(timestamp_with_time_zone(ThirdPartyEntry::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_third_party_entry_case_id")
                            .from(ThirdPartyEntry::Table, ThirdPartyEntry::CaseId)
                            .to(Alias::new("support_case"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_third_party_entry_recorded_by")
                            .from(ThirdPartyEntry::Table, ThirdPartyEntry::RecordedBy)
                            .to(Alias::new("staff"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tpe_case")
                    .table(ThirdPartyEntry::Table)
                    .col(ThirdPartyEntry::CaseId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ThirdPartyEntry::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ThirdPartyEntry {
    Table,
    Id,
    CaseId,
    Source,
    Subject,
    Body,
    ThirdPartyConsented,
    DisclosureJustification,
    RecordedBy,
    CreatedAt,
}
