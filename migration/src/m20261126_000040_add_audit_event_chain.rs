use crate::audit_chain::{Chained, GENESIS};
use sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

/// The audit trail becomes a hash chain: each record carries its position
/// (`seq`), the hash of the record before it and its own hash (see
/// [`crate::audit_chain`]), and the lawful basis its basis rests on. A one-row
/// head holds the last position and hash: writers lock it, so concurrent
/// writers cannot fork the chain, and a deleted tail is found by comparing it.
/// Records written before the chain are chained here, in (time, id) order,
/// with no lawful basis (none was recorded with them).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            big_integer_null(AuditEvent::Seq),
            string_null(AuditEvent::PrevHash),
            string_null(AuditEvent::Hash),
            text_null(AuditEvent::LawfulBasis),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditEvent::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuditChainHead::Table)
                    .if_not_exists()
                    .col(integer(AuditChainHead::Id).primary_key())
                    .col(big_integer(AuditChainHead::Seq))
                    .col(string(AuditChainHead::Hash))
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        let rows = db
            .query_all(
                &Query::select()
                    .columns([
                        AuditEvent::Id,
                        AuditEvent::OccurredAt,
                        AuditEvent::ActorId,
                        AuditEvent::ActorRole,
                        AuditEvent::StudentId,
                        AuditEvent::Action,
                        AuditEvent::Fields,
                        AuditEvent::Outcome,
                        AuditEvent::Basis,
                        AuditEvent::Detail,
                        AuditEvent::RequestId,
                    ])
                    .from(AuditEvent::Table)
                    .order_by(AuditEvent::OccurredAt, Order::Asc)
                    .order_by(AuditEvent::Id, Order::Asc)
                    .to_owned(),
            )
            .await?;
        let mut seq: i64 = 0;
        let mut prev = GENESIS.to_owned();
        for row in rows {
            seq += 1;
            let id: uuid::Uuid = row.try_get("", "id")?;
            let actor_role: String = row.try_get("", "actor_role")?;
            let action: String = row.try_get("", "action")?;
            let fields: serde_json::Value = row.try_get("", "fields")?;
            let outcome: String = row.try_get("", "outcome")?;
            let basis: Option<String> = row.try_get("", "basis")?;
            let detail: Option<String> = row.try_get("", "detail")?;
            let hash = Chained {
                seq,
                id,
                occurred_at: row.try_get("", "occurred_at")?,
                actor_id: row.try_get("", "actor_id")?,
                actor_role: &actor_role,
                student_id: row.try_get("", "student_id")?,
                action: &action,
                fields: &fields,
                outcome: &outcome,
                basis: basis.as_deref(),
                detail: detail.as_deref(),
                request_id: row.try_get("", "request_id")?,
                lawful_basis: None,
                policy_version: None,
                prev_hash: &prev,
            }
            .hash();
            db.execute(
                &Query::update()
                    .table(AuditEvent::Table)
                    .value(AuditEvent::Seq, seq)
                    .value(AuditEvent::PrevHash, prev.clone())
                    .value(AuditEvent::Hash, hash.clone())
                    .and_where(Expr::col(AuditEvent::Id).eq(id))
                    .to_owned(),
            )
            .await?;
            prev = hash;
        }
        db.execute(
            &Query::insert()
                .into_table(AuditChainHead::Table)
                .columns([
                    AuditChainHead::Id,
                    AuditChainHead::Seq,
                    AuditChainHead::Hash,
                ])
                .values_panic([1.into(), seq.into(), prev.into()])
                .to_owned(),
        )
        .await?;
        // One record per position: a second writer that read a stale head
        // fails here rather than forking the chain.
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_seq")
                    .table(AuditEvent::Table)
                    .col(AuditEvent::Seq)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_audit_seq")
                    .table(AuditEvent::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(AuditChainHead::Table).to_owned())
            .await?;
        for column in [
            AuditEvent::LawfulBasis,
            AuditEvent::Hash,
            AuditEvent::PrevHash,
            AuditEvent::Seq,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditEvent::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Id,
    OccurredAt,
    ActorId,
    ActorRole,
    StudentId,
    Action,
    Fields,
    Outcome,
    Basis,
    Detail,
    RequestId,
    Seq,
    PrevHash,
    Hash,
    LawfulBasis,
}

#[derive(DeriveIden)]
enum AuditChainHead {
    Table,
    Id,
    Seq,
    Hash,
}
