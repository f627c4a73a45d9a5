pub use sea_orm_migration::prelude::*;

pub mod audit_chain;

mod m20261125_000001_create_staff;
mod m20261125_000002_create_partner_organisation;
mod m20261125_000003_create_student;
mod m20261125_000004_create_enrolment;
mod m20261125_000005_create_support_case;
mod m20261125_000006_create_note;
mod m20261125_000007_create_third_party_entry;
mod m20261125_000008_create_consent;
mod m20261125_000009_create_risk_exception;
mod m20261125_000010_create_audit_event;
mod m20261125_000011_create_risk_exception_recipient;
mod m20261125_000012_add_audit_event_detail;
mod m20261125_000013_create_case_list_indexes;
mod m20261125_000014_create_case_status_index;
mod m20261126_000015_add_audit_event_request_id;
mod m20261126_000016_create_change_event;
mod m20261126_000017_create_readiness_probe;
mod m20261126_000018_add_risk_exception_concern_notice;
mod m20261126_000019_add_staff_registration;
mod m20261126_000020_create_emergency_disclosure;
mod m20261126_000021_create_emergency_access;
mod m20261126_000022_create_legal_authority;
mod m20261126_000030_create_department;
mod m20261126_000031_create_university_service;
mod m20261126_000032_add_partner_idp_subject;
mod m20261126_000033_backfill_directory;
mod m20261126_000040_add_audit_event_chain;
mod m20261126_000041_make_audit_event_append_only;
mod m20261126_000050_create_restriction;
mod m20261126_000051_create_student_change;
mod m20261126_000052_create_lawful_basis;
mod m20261126_000060_create_retention_rule;
mod m20261126_000061_create_legal_hold;
mod m20261126_000062_create_erasure_request;
mod m20261126_000063_create_disclosure_record;
mod m20261126_000064_create_destruction_indexes;
mod m20261126_000070_create_subject_access_request;
mod m20261126_000071_create_serious_harm_review;
mod m20261126_000080_create_statistics_release;
mod m20261126_000085_create_research_extract;
mod m20261126_000086_create_statistics_version;
mod m20261126_000090_create_registered_operation;
mod m20261126_000100_create_policy_version;
mod m20261126_000110_create_statistics_change;
mod m20261128_000120_create_audit_query_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_staff::Migration),
            Box::new(m20261125_000002_create_partner_organisation::Migration),
            Box::new(m20261125_000003_create_student::Migration),
            Box::new(m20261125_000004_create_enrolment::Migration),
            Box::new(m20261125_000005_create_support_case::Migration),
            Box::new(m20261125_000006_create_note::Migration),
            Box::new(m20261125_000007_create_third_party_entry::Migration),
            Box::new(m20261125_000008_create_consent::Migration),
            Box::new(m20261125_000009_create_risk_exception::Migration),
            Box::new(m20261125_000010_create_audit_event::Migration),
            Box::new(m20261125_000011_create_risk_exception_recipient::Migration),
            Box::new(m20261125_000012_add_audit_event_detail::Migration),
            Box::new(m20261125_000013_create_case_list_indexes::Migration),
            Box::new(m20261125_000014_create_case_status_index::Migration),
            Box::new(m20261126_000015_add_audit_event_request_id::Migration),
            Box::new(m20261126_000016_create_change_event::Migration),
            Box::new(m20261126_000017_create_readiness_probe::Migration),
            Box::new(m20261126_000018_add_risk_exception_concern_notice::Migration),
            Box::new(m20261126_000019_add_staff_registration::Migration),
            Box::new(m20261126_000020_create_emergency_disclosure::Migration),
            Box::new(m20261126_000021_create_emergency_access::Migration),
            Box::new(m20261126_000022_create_legal_authority::Migration),
            Box::new(m20261126_000030_create_department::Migration),
            Box::new(m20261126_000031_create_university_service::Migration),
            Box::new(m20261126_000032_add_partner_idp_subject::Migration),
            Box::new(m20261126_000033_backfill_directory::Migration),
            Box::new(m20261126_000040_add_audit_event_chain::Migration),
            Box::new(m20261126_000041_make_audit_event_append_only::Migration),
            Box::new(m20261126_000050_create_restriction::Migration),
            Box::new(m20261126_000051_create_student_change::Migration),
            Box::new(m20261126_000052_create_lawful_basis::Migration),
            Box::new(m20261126_000060_create_retention_rule::Migration),
            Box::new(m20261126_000061_create_legal_hold::Migration),
            Box::new(m20261126_000062_create_erasure_request::Migration),
            Box::new(m20261126_000063_create_disclosure_record::Migration),
            Box::new(m20261126_000064_create_destruction_indexes::Migration),
            Box::new(m20261126_000070_create_subject_access_request::Migration),
            Box::new(m20261126_000071_create_serious_harm_review::Migration),
            Box::new(m20261126_000080_create_statistics_release::Migration),
            Box::new(m20261126_000085_create_research_extract::Migration),
            Box::new(m20261126_000086_create_statistics_version::Migration),
            Box::new(m20261126_000090_create_registered_operation::Migration),
            Box::new(m20261126_000100_create_policy_version::Migration),
            Box::new(m20261126_000110_create_statistics_change::Migration),
            Box::new(m20261128_000120_create_audit_query_indexes::Migration),
        ]
    }
}
