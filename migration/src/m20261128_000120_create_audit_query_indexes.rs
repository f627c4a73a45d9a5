use sea_orm_migration::prelude::*;

/// Indexes for the audit trail as it is read: newest first, by its position in
/// the chain (`seq`). The first indexes (000010) ordered a student's and an
/// actor's records by `occurred_at`, so `auditEvents(studentId:)` (newest 100
/// by `seq`) had to fetch and sort every record about the student, and
/// `auditEvents(outcome:)` had to walk the chain backwards until it had found
/// 100 records with that outcome: 3.8 s and 4.2 s with 14 million records
/// (BENCHMARKS.md runs 26 and 27). Each index below serves its filter in `seq` order,
/// so a page reads only the records it returns.
///
/// The outcome index holds only the records that were not allowed (redact,
/// deny): a few of the trail, where a DPO looks for refusals. Allowed records
/// are most of it, found at once walking the chain backwards, and a full index
/// would be one more entry for every record every request writes (measured:
/// PostgreSQL's CPU per dashboard request higher in 5 of 6 pairs). The audit
/// query repeats the index's condition as a literal (`outcome <> 'allow'`),
/// which is how both databases know the index applies to a bound outcome.
///
/// The student and actor indexes replace the `occurred_at` ones rather than
/// adding to them: every request writes tens of audit records, and each index
/// is one more entry per record. The readers that ordered a student's records
/// by time with a limit (the access log) order them by `seq` now, the order
/// they were recorded in.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, first column) of the indexes this migration creates, each on (column, seq).
const CREATED: &[(&str, AuditEvent)] = &[
    ("idx_audit_student_seq", AuditEvent::StudentId),
    ("idx_audit_actor_seq", AuditEvent::ActorId),
];

/// The partial index of the records not allowed, on (outcome, seq).
const NOT_ALLOWED_INDEX: &str = "idx_audit_not_allowed_seq";

/// (name, first column) of the indexes it replaces, each on (column, occurred_at).
const REPLACED: &[(&str, AuditEvent)] = &[
    ("idx_audit_student", AuditEvent::StudentId),
    ("idx_audit_actor", AuditEvent::ActorId),
];

/// An index of `audit_event` on (`first`, `then`).
fn index(name: &str, first: AuditEvent, then: AuditEvent) -> IndexCreateStatement {
    Index::create()
        .if_not_exists()
        .name(name)
        .table(AuditEvent::Table)
        .col(first)
        .col(then)
        .to_owned()
}

async fn drop(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().name(name).table(AuditEvent::Table).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in CREATED {
            manager
                .create_index(index(name, *column, AuditEvent::Seq))
                .await?;
        }
        manager
            .create_index(
                index(NOT_ALLOWED_INDEX, AuditEvent::Outcome, AuditEvent::Seq)
                    .and_where(Expr::col(AuditEvent::Outcome).ne(Expr::cust("'allow'")))
                    .to_owned(),
            )
            .await?;
        for (name, _) in REPLACED {
            drop(manager, name).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in REPLACED {
            manager
                .create_index(index(name, *column, AuditEvent::OccurredAt))
                .await?;
        }
        for (name, _) in CREATED {
            drop(manager, name).await?;
        }
        drop(manager, NOT_ALLOWED_INDEX).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvent {
    Table,
    StudentId,
    ActorId,
    Outcome,
    OccurredAt,
    Seq,
}
