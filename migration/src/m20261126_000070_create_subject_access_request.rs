use sea_orm_migration::{prelude::*, schema::*};

/// A subject access request (issue 10, item 2): when it was received, that the
/// requester's identity was checked and how, the due date (one calendar month
/// from receipt) and its one extension (by up to two further months, with a
/// reason), who opened it, and, once finalised, when, by whom, and the
/// document released (its JSON text and SHA-256).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SubjectAccessRequest::Table)
                    .if_not_exists()
                    .col(pk_uuid(SubjectAccessRequest::Id))
                    .col(uuid(SubjectAccessRequest::StudentId))
                    .col(date(SubjectAccessRequest::ReceivedOn))
                    .col(boolean(SubjectAccessRequest::IdentityChecked))
                    .col(text(SubjectAccessRequest::IdentityCheck))
                    .col(date(SubjectAccessRequest::DueOn))
                    .col(date_null(SubjectAccessRequest::ExtendedDueOn))
                    .col(text_null(SubjectAccessRequest::ExtensionReason))
                    .col(uuid_null(SubjectAccessRequest::ExtendedBy))
                    .col(timestamp_with_time_zone_null(
                        SubjectAccessRequest::ExtendedAt,
                    ))
                    .col(uuid(SubjectAccessRequest::OpenedBy))
                    .col(text(SubjectAccessRequest::OpenedByRole))
                    .col(timestamp_with_time_zone(SubjectAccessRequest::OpenedAt))
                    .col(timestamp_with_time_zone_null(
                        SubjectAccessRequest::FinalisedAt,
                    ))
                    .col(uuid_null(SubjectAccessRequest::FinalisedBy))
                    .col(text_null(SubjectAccessRequest::ExportSha256))
                    .col(text_null(SubjectAccessRequest::ExportDocument))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SubjectAccessRequest::Table, SubjectAccessRequest::StudentId)
                            .to(Student::Table, Student::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_subject_access_request_student")
                    .table(SubjectAccessRequest::Table)
                    .col(SubjectAccessRequest::StudentId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SubjectAccessRequest::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SubjectAccessRequest {
    Table,
    Id,
    StudentId,
    ReceivedOn,
    IdentityChecked,
    IdentityCheck,
    DueOn,
    ExtendedDueOn,
    ExtensionReason,
    ExtendedBy,
    ExtendedAt,
    OpenedBy,
    OpenedByRole,
    OpenedAt,
    FinalisedAt,
    FinalisedBy,
    ExportSha256,
    ExportDocument,
}

#[derive(DeriveIden)]
enum Student {
    Table,
    Id,
}
