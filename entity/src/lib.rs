//! SeaORM entities for Confide. Enumerated values are stored as text and
//! parsed into domain types by the application at the edge.

pub mod audit_event;
pub mod change_event;
pub mod consent;
pub mod department;
pub mod disclosure_record;
pub mod emergency_access;
pub mod emergency_disclosure;
pub mod enrolment;
pub mod erasure_request;
pub mod lawful_basis;
pub mod legal_authority;
pub mod legal_hold;
pub mod note;
pub mod partner_organisation;
pub mod policy_version;
pub mod registered_operation;
pub mod research_extract;
pub mod restriction;
pub mod retention_rule;
pub mod risk_exception;
pub mod risk_exception_recipient;
pub mod serious_harm_review;
pub mod staff;
pub mod statistics_release;
pub mod student;
pub mod student_change;
pub mod subject_access_request;
pub mod support_case;
pub mod third_party_entry;
pub mod university_service;

pub mod prelude {
    pub use super::audit_event::Entity as AuditEvent;
    pub use super::change_event::Entity as ChangeEvent;
    pub use super::consent::Entity as Consent;
    pub use super::department::Entity as Department;
    pub use super::enrolment::Entity as Enrolment;
    pub use super::note::Entity as Note;
    pub use super::partner_organisation::Entity as PartnerOrganisation;
    pub use super::risk_exception::Entity as RiskException;
    pub use super::staff::Entity as Staff;
    pub use super::student::Entity as Student;
    pub use super::support_case::Entity as SupportCase;
    pub use super::third_party_entry::Entity as ThirdPartyEntry;
    pub use super::university_service::Entity as UniversityService;
}
