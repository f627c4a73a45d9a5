use sea_orm_migration::prelude::*;

/// Indexes the retention purge needs (issue 10, item 5): it deletes a
/// student's rows table by table, by `student_id`, and deleting a case or a
/// risk exception checks the foreign keys that point at it. Without these,
/// each of those deletes (or checks) scans the whole table, once per student.
#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: &[(&str, &str, &str)] = &[
    ("idx_rer_student", "risk_exception_recipient", "student_id"),
    (
        "idx_rer_risk_exception",
        "risk_exception_recipient",
        "risk_exception_id",
    ),
    (
        "idx_emergency_access_student",
        "emergency_access",
        "student_id",
    ),
    ("idx_consent_case", "consent", "case_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, column) in INDEXES {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(*name)
                        .table(Alias::new(*table))
                        .col(Alias::new(*column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager
                .drop_index(
                    Index::drop()
                        .name(*name)
                        .table(Alias::new(*table))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
