use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "staff")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    #[sea_orm(unique)]
    pub email: String,
    /// One of the staff roles (practitioner, service_lead, reception, analyst, it_support, dpo, department, university_service).
    pub role: String,
    /// Student Support service (for practitioner, service_lead and reception).
    pub service: Option<String>,
    /// Academic department (for role department).
    pub department: Option<String>,
    /// Named university unit (for role university_service).
    pub university_unit: Option<String>,
    /// A mental health professional (whose registration counts only while one
    /// is on file and has not lapsed: see the registration columns).
    pub registered_mhp: bool,
    /// The registering body (e.g. HCPC, BACP, NMC).
    pub registration_body: Option<String>,
    pub registration_number: Option<String>,
    /// The registration counts until the end of this day; a lapsed one counts as none.
    pub registration_expires_on: Option<Date>,
    pub active: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
