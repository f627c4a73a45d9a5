use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "student")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub student_number: String,
    pub name: String,
    pub preferred_name: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub term_address: Option<String>,
    pub home_address: Option<String>,
    pub date_of_birth: Option<Date>,
    pub department: String,
    pub course: String,
    pub emergency_contact: Option<String>,
    pub gp_practice: Option<String>,
    pub processing_restricted: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
