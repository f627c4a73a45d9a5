use sea_orm_migration::{prelude::*, schema::*};

/// The UK GDPR conditions each kind of basis rests on (issue 10, item 1): the
/// DPO configures them, and every audit record carries the one its basis
/// rests on at the time it was written. Seeded with the university's defaults.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// `(kind, Art. 6 condition, Art. 9 condition)`.
const DEFAULTS: [(&str, &str, &str); 6] = [
    (
        "role",
        "Art. 6(1)(e) public task",
        "Art. 9(2)(h) health or social care",
    ),
    (
        "consent",
        "Art. 6(1)(a) consent",
        "Art. 9(2)(a) explicit consent",
    ),
    (
        "risk_exception",
        "Art. 6(1)(d) vital interests",
        "Art. 9(2)(c) vital interests",
    ),
    (
        "emergency",
        "Art. 6(1)(d) vital interests",
        "Art. 9(2)(c) vital interests",
    ),
    (
        "legal_authority",
        "Art. 6(1)(c) legal obligation",
        "Art. 9(2)(f) legal claims or judicial acts",
    ),
    (
        "subject_access_request",
        "Art. 6(1)(c) legal obligation",
        "Art. 9(2)(g) substantial public interest (the right of access, Art. 15)",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LawfulBasis::Table)
                    .if_not_exists()
                    .col(string(LawfulBasis::Kind).primary_key())
                    .col(text(LawfulBasis::Article6))
                    .col(text(LawfulBasis::Article9))
                    .col(uuid_null(LawfulBasis::UpdatedBy))
                    .col(timestamp_with_time_zone_null(LawfulBasis::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        let mut insert = Query::insert();
        insert.into_table(LawfulBasis::Table).columns([
            LawfulBasis::Kind,
            LawfulBasis::Article6,
            LawfulBasis::Article9,
        ]);
        for (kind, article6, article9) in DEFAULTS {
            insert.values_panic([kind.into(), article6.into(), article9.into()]);
        }
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LawfulBasis::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LawfulBasis {
    Table,
    Kind,
    Article6,
    Article9,
    UpdatedBy,
    UpdatedAt,
}
