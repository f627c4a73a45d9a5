use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// The UK GDPR Art. 6 and Art. 9 conditions one kind of basis (`role`,
/// `consent`, `risk_exception`, `emergency`, `legal_authority`) rests on, as
/// the DPO configured them.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "lawful_basis")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    pub article6: String,
    pub article9: String,
    pub updated_by: Option<Uuid>,
    pub updated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
