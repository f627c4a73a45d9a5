use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A subject access request about a student: opened by the DPO (or made by
/// the student from the API), due one calendar month from receipt, extendable
/// once; finalised with the document released.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "subject_access_request")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    pub received_on: Date,
    pub identity_checked: bool,
    /// How the requester's identity was checked (e.g. "passport seen at reception").
    pub identity_check: String,
    /// One calendar month from receipt.
    pub due_on: Date,
    /// The due date after the one extension, if extended.
    pub extended_due_on: Option<Date>,
    pub extension_reason: Option<String>,
    pub extended_by: Option<Uuid>,
    pub extended_at: Option<DateTimeUtc>,
    pub opened_by: Uuid,
    pub opened_by_role: String,
    pub opened_at: DateTimeUtc,
    pub finalised_at: Option<DateTimeUtc>,
    pub finalised_by: Option<Uuid>,
    /// Hex SHA-256 of `export_document`.
    pub export_sha256: Option<String>,
    /// The document released at finalisation (JSON text, `confide-sar/1`).
    #[sea_orm(column_type = "Text", nullable)]
    pub export_document: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::student::Entity",
        from = "Column::StudentId",
        to = "super::student::Column::Id"
    )]
    Student,
}

impl Related<super::student::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Student.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
