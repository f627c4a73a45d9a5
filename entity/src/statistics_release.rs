use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One statistic released to a caller (the release ledger).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "statistics_release")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The query that released it (named by its audit record).
    pub release_id: Uuid,
    pub caller_id: Uuid,
    pub released_at: DateTimeUtc,
    /// STUDENTS or CASES.
    pub measure: String,
    /// The region counted, canonical JSON.
    #[sea_orm(column_type = "Text")]
    pub region: String,
    /// The value released.
    pub value: i64,
    /// Distinct students and cases in the region when it was released.
    pub students: i64,
    pub cases: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
