use sea_orm_migration::prelude::*;

/// The retention rule of a Student Support service (issue 10, item 5): a
/// service named here with rule `last_contact_seven_years` keeps its cases for
/// seven years after the end of the academic year (1 August to 31 July) of the
/// last contact; every other service (no row) follows the default rule, six
/// years after the student's last enrolment ends. Services are configured by
/// name (`CONFIDE_SERVICES`), so the rule is keyed by that name.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RetentionRule::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(RetentionRule::Service)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RetentionRule::Rule).string().not_null())
                    .col(
                        ColumnDef::new(RetentionRule::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RetentionRule::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RetentionRule {
    Table,
    Service,
    Rule,
    UpdatedAt,
}
