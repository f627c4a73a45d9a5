use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "risk_exception_recipient")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub risk_exception_id: Uuid,
    pub student_id: Uuid,
    pub recipient_kind: String,
    pub recipient_ref: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::risk_exception::Entity",
        from = "Column::RiskExceptionId",
        to = "super::risk_exception::Column::Id"
    )]
    RiskException,
}

impl Related<super::risk_exception::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RiskException.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
