use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

/// Departments and university services already named by staff records become
/// rows of their tables (active, named by their code), so that the callers of
/// an existing database keep signing in once a deactivated department or unit
/// refuses its callers.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (column, role, table) in [
            ("department", "department", "department"),
            (
                "university_unit",
                "university_service",
                "university_service",
            ),
        ] {
            let select = Query::select()
                .distinct()
                .column(Alias::new(column))
                .from(Alias::new("staff"))
                .and_where(Expr::col(Alias::new("role")).eq(role))
                .and_where(Expr::col(Alias::new(column)).is_not_null())
                .to_owned();
            let rows = db.query_all(&select).await?;
            let now = chrono::Utc::now();
            for row in rows {
                let code: String = row.try_get("", column)?;
                let existing = db
                    .query_one(
                        &Query::select()
                            .expr(Expr::val(1))
                            .from(Alias::new(table))
                            .and_where(Expr::col(Alias::new("code")).eq(code.clone()))
                            .to_owned(),
                    )
                    .await?;
                if existing.is_some() {
                    continue;
                }
                let insert = Query::insert()
                    .into_table(Alias::new(table))
                    .columns([
                        Alias::new("id"),
                        Alias::new("code"),
                        Alias::new("name"),
                        Alias::new("active"),
                        Alias::new("created_at"),
                    ])
                    .values_panic([
                        uuid::Uuid::new_v4().into(),
                        code.clone().into(),
                        code.into(),
                        true.into(),
                        now.into(),
                    ])
                    .to_owned();
                db.execute(&insert).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The rows stay: the tables themselves are dropped by the migrations
        // that created them.
        Ok(())
    }
}
