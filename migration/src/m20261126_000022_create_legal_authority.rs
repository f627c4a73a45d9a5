use sea_orm_migration::{prelude::*, schema::*};

/// A legal authority for a disclosure (a court order or a statutory duty),
/// recorded by the DPO: its reference, the recipient, the exact scope
/// (categories, optionally one case; case notes and third-party entries when
/// the order says so), an expiry, and whether the student may be told.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LegalAuthority::Table)
                    .if_not_exists()
                    .col(pk_uuid(LegalAuthority::Id))
                    .col(uuid(LegalAuthority::StudentId))
                    .col(string(LegalAuthority::Kind))
                    .col(string(LegalAuthority::Reference))
                    .col(string(LegalAuthority::Issuer))
                    .col(string(LegalAuthority::RecipientKind))
                    .col(string(LegalAuthority::RecipientRef))
                    .col(json(LegalAuthority::Categories))
                    .col(uuid_null(LegalAuthority::CaseId))
                    .col(timestamp_with_time_zone(LegalAuthority::RecordedAt))
                    .col(uuid(LegalAuthority::RecordedBy))
                    .col(timestamp_with_time_zone(LegalAuthority::ExpiresAt))
                    .col(timestamp_with_time_zone_null(LegalAuthority::RevokedAt))
                    .col(uuid_null(LegalAuthority::RevokedBy))
                    .col(boolean(LegalAuthority::InformForbidden))
                    .col(timestamp_with_time_zone_null(
                        LegalAuthority::StudentInformedAt,
                    ))
                    .col(text_null(LegalAuthority::NotInformedReason))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LegalAuthority::Table, LegalAuthority::StudentId)
                            .to(Student::Table, Student::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_legal_authority_recipient")
                    .table(LegalAuthority::Table)
                    .col(LegalAuthority::RecipientKind)
                    .col(LegalAuthority::RecipientRef)
                    .col(LegalAuthority::StudentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_legal_authority_student")
                    .table(LegalAuthority::Table)
                    .col(LegalAuthority::StudentId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LegalAuthority::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LegalAuthority {
    Table,
    Id,
    StudentId,
    Kind,
    Reference,
    Issuer,
    RecipientKind,
    RecipientRef,
    Categories,
    CaseId,
    RecordedAt,
    RecordedBy,
    ExpiresAt,
    RevokedAt,
    RevokedBy,
    InformForbidden,
    StudentInformedAt,
    NotInformedReason,
}

#[derive(DeriveIden)]
enum Student {
    Table,
    Id,
}
