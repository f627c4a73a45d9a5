use sea_orm_migration::prelude::*;

/// `supportCases(filter: { status })` without a service pages in id order too;
/// every other case filter already has an index (service, assignee, student,
/// opened date, risk level). Substring filters (`noteContains`, `nameContains`)
/// cannot use a B-tree and scan within the caller's visible rows.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_case_status_id")
                    .table(Alias::new("support_case"))
                    .col(Alias::new("status"))
                    .col(Alias::new("id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_case_status_id")
                    .table(Alias::new("support_case"))
                    .to_owned(),
            )
            .await
    }
}
