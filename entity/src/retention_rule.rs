use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// The retention rule of a Student Support service, by the service's name.
/// A service with no row follows the default rule (six years after the
/// student's last enrolment ends).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "retention_rule")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub service: String,
    /// `last_contact_seven_years` (or `last_enrolment_six_years`, the default).
    pub rule: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
