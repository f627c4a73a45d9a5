//! Demo data: several services and departments, students, cases, notes with
//! labels, a third-party entry and partner organisations. Ids are fixed so that
//! seeding twice changes nothing. Tests use the same data as their fixture.

use crate::auth::Authenticator;
use crate::domain::{labels_to_json, Role, SensitivityLabel};
use crate::error::{AppError, AppResult};
use chrono::{Duration, NaiveDate, Utc};
use entity::{
    enrolment, note, partner_organisation, staff, student, support_case, third_party_entry,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set, TransactionTrait,
};
use uuid::Uuid;

/// The ids of the demo records.
#[derive(Clone, Debug)]
pub struct Demo {
    /// Practitioner, counselling, registered mental health professional.
    pub counsellor: Uuid,
    /// Practitioner, mental_health, registered mental health professional.
    pub mental_health_adviser: Uuid,
    /// Practitioner, disability, not registered.
    pub disability_adviser: Uuid,
    pub counselling_lead: Uuid,
    pub reception: Uuid,
    pub analyst: Uuid,
    pub it_support: Uuid,
    pub dpo: Uuid,
    /// Department role, history.
    pub history_department: Uuid,
    /// University service role, accommodation.
    pub accommodation: Uuid,
    /// Inactive practitioner (counselling).
    pub former_counsellor: Uuid,
    pub nhs_trust: Uuid,
    pub landlord_a: Uuid,
    pub landlord_b: Uuid,
    /// Partner organisation of kind gp_practice.
    pub gp_practice: Uuid,
    /// History student with a counselling case and a mental health case.
    pub alice: Uuid,
    /// Physics student with a disability case (adjustments).
    pub bob: Uuid,
    /// History student whose processing is restricted, with a counselling case.
    pub carol: Uuid,
    pub alice_counselling_case: Uuid,
    pub alice_mental_health_case: Uuid,
    pub bob_disability_case: Uuid,
    pub carol_counselling_case: Uuid,
    /// Alice's counselling note labelled SEXUAL_HEALTH.
    pub alice_sexual_health_note: Uuid,
}

const fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 | n)
}

pub const DEMO: Demo = Demo {
    counsellor: id(0x101),
    mental_health_adviser: id(0x102),
    disability_adviser: id(0x103),
    counselling_lead: id(0x104),
    reception: id(0x105),
    analyst: id(0x106),
    it_support: id(0x107),
    dpo: id(0x108),
    history_department: id(0x109),
    accommodation: id(0x10a),
    former_counsellor: id(0x10b),
    nhs_trust: id(0x201),
    landlord_a: id(0x202),
    landlord_b: id(0x203),
    gp_practice: id(0x204),
    alice: id(0x301),
    bob: id(0x302),
    carol: id(0x303),
    alice_counselling_case: id(0x401),
    alice_mental_health_case: id(0x402),
    bob_disability_case: id(0x403),
    carol_counselling_case: id(0x404),
    alice_sexual_health_note: id(0x502),
};

struct StaffSeed(
    Uuid,
    &'static str,
    &'static str,
    Role,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    bool,
    bool,
);

/// Seeds the demo data unless it is already there.
pub async fn seed(db: &DatabaseConnection) -> AppResult<Demo> {
    let d = DEMO;
    if staff::Entity::find_by_id(d.counsellor)
        .one(db)
        .await?
        .is_some()
    {
        return Ok(d);
    }
    let txn = db.begin().await?;
    let now = Utc::now();
    let staff_rows = [
        StaffSeed(
            d.counsellor,
            "Priya Shah",
            "p.shah@uni.example",
            Role::Practitioner,
            Some("counselling"),
            None,
            None,
            true,
            true,
        ),
        StaffSeed(
            d.mental_health_adviser,
            "Tom Okafor",
            "t.okafor@uni.example",
            Role::Practitioner,
            Some("mental_health"),
            None,
            None,
            true,
            true,
        ),
        StaffSeed(
            d.disability_adviser,
            "Jo Evans",
            "j.evans@uni.example",
            Role::Practitioner,
            Some("disability"),
            None,
            None,
            false,
            true,
        ),
        StaffSeed(
            d.counselling_lead,
            "Maria Lopez",
            "m.lopez@uni.example",
            Role::ServiceLead,
            Some("counselling"),
            None,
            None,
            true,
            true,
        ),
        StaffSeed(
            d.reception,
            "Sam Green",
            "s.green@uni.example",
            Role::Reception,
            Some("counselling"),
            None,
            None,
            false,
            true,
        ),
        StaffSeed(
            d.analyst,
            "Ade Bello",
            "a.bello@uni.example",
            Role::Analyst,
            None,
            None,
            None,
            false,
            true,
        ),
        StaffSeed(
            d.it_support,
            "Kim Park",
            "k.park@uni.example",
            Role::ItSupport,
            None,
            None,
            None,
            false,
            true,
        ),
        StaffSeed(
            d.dpo,
            "Rosa Diaz",
            "dpo@uni.example",
            Role::Dpo,
            None,
            None,
            None,
            false,
            true,
        ),
        StaffSeed(
            d.history_department,
            "History Office",
            "history@uni.example",
            Role::Department,
            None,
            Some("history"),
            None,
            false,
            true,
        ),
        StaffSeed(
            d.accommodation,
            "Accommodation Office",
            "accommodation@uni.example",
            Role::UniversityService,
            None,
            None,
            Some("accommodation"),
            false,
            true,
        ),
        StaffSeed(
            d.former_counsellor,
            "Lee Former",
            "l.former@uni.example",
            Role::Practitioner,
            Some("counselling"),
            None,
            None,
            true,
            false,
        ),
    ];
    for StaffSeed(id, name, email, role, service, department, unit, mhp, active) in staff_rows {
        staff::ActiveModel {
            id: Set(id),
            name: Set(name.to_owned()),
            email: Set(email.to_owned()),
            role: Set(role.as_str().to_owned()),
            service: Set(service.map(str::to_owned)),
            department: Set(department.map(str::to_owned)),
            university_unit: Set(unit.map(str::to_owned)),
            registered_mhp: Set(mhp),
            active: Set(active),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    for (id, name, kind) in [
        (d.nhs_trust, "Northshire NHS Foundation Trust", "nhs_trust"),
        (d.landlord_a, "Castle Lettings", "landlord"),
        (d.landlord_b, "Riverside Homes", "landlord"),
        (d.gp_practice, "Campus Health Centre", "gp_practice"),
    ] {
        partner_organisation::ActiveModel {
            id: Set(id),
            name: Set(name.to_owned()),
            kind: Set(kind.to_owned()),
            active: Set(true),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    let students = [
        (
            d.alice,
            "S1000001",
            "Alice Example",
            Some("Ali"),
            "alice@student.uni.example",
            "history",
            "BA History",
            false,
        ),
        (
            d.bob,
            "S1000002",
            "Bob Example",
            None,
            "bob@student.uni.example",
            "physics",
            "MPhys Physics",
            false,
        ),
        (
            d.carol,
            "S1000003",
            "Carol Example",
            None,
            "carol@student.uni.example",
            "history",
            "BA History",
            true,
        ),
    ];
    for (id, number, name, preferred, email, dept, course, restricted) in students {
        student::ActiveModel {
            id: Set(id),
            student_number: Set(number.to_owned()),
            name: Set(name.to_owned()),
            preferred_name: Set(preferred.map(str::to_owned)),
            email: Set(email.to_owned()),
            phone: Set(Some("07700 900123".to_owned())),
            term_address: Set(Some("Room 12, Hall A, Campus".to_owned())),
            home_address: Set(Some("1 High Street, Hometown".to_owned())),
            date_of_birth: Set(NaiveDate::from_ymd_opt(2004, 3, 14)),
            department: Set(dept.to_owned()),
            course: Set(course.to_owned()),
            emergency_contact: Set(Some("Parent, 07700 900456".to_owned())),
            gp_practice: Set(Some("Campus Health Centre".to_owned())),
            processing_restricted: Set(restricted),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        enrolment::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(id),
            starts_on: Set(NaiveDate::from_ymd_opt(2023, 9, 25).unwrap_or_default()),
            ends_on: Set(None),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    let cases = [
        (
            d.alice_counselling_case,
            d.alice,
            "counselling",
            Some(d.counsellor),
            "Weekly counselling sessions.",
            Some("Extra time in exams (25%)."),
            "medium",
        ),
        (
            d.alice_mental_health_case,
            d.alice,
            "mental_health",
            Some(d.mental_health_adviser),
            "Mental health support plan in place.",
            None,
            "high",
        ),
        (
            d.bob_disability_case,
            d.bob,
            "disability",
            Some(d.disability_adviser),
            "Disability support agreed.",
            Some("Accessible room; lecture recordings."),
            "none",
        ),
        (
            d.carol_counselling_case,
            d.carol,
            "counselling",
            Some(d.counsellor),
            "Counselling sessions.",
            None,
            "low",
        ),
    ];
    for (i, (id, student_id, service, assigned, summary, adjustments, risk)) in
        cases.into_iter().enumerate()
    {
        let opened = now - Duration::days(60 - 10 * i as i64);
        support_case::ActiveModel {
            id: Set(id),
            student_id: Set(student_id),
            service: Set(service.to_owned()),
            status: Set("open".to_owned()),
            opened_at: Set(opened),
            closed_at: Set(None),
            assigned_to: Set(assigned),
            summary: Set(Some(summary.to_owned())),
            adjustments: Set(adjustments.map(str::to_owned)),
            risk_level: Set(risk.to_owned()),
            created_at: Set(opened),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    let notes = [
        (
            id(0x501),
            d.alice_counselling_case,
            d.counsellor,
            "meeting",
            "First session: low mood since term began.",
            vec![SensitivityLabel::MentalHealth],
        ),
        (
            d.alice_sexual_health_note,
            d.alice_counselling_case,
            d.counsellor,
            "meeting",
            "Discussed a sexual health clinic referral.",
            vec![SensitivityLabel::SexualHealth],
        ),
        (
            id(0x503),
            d.alice_counselling_case,
            d.counsellor,
            "action",
            "Wrote to department about exam arrangements.",
            vec![],
        ),
        (
            id(0x504),
            d.alice_mental_health_case,
            d.mental_health_adviser,
            "meeting",
            "Risk assessment completed; safety plan agreed.",
            vec![SensitivityLabel::MentalHealth, SensitivityLabel::SelfHarm],
        ),
        (
            id(0x505),
            d.bob_disability_case,
            d.disability_adviser,
            "communication",
            "Emailed accessibility requirements to estates.",
            vec![SensitivityLabel::PhysicalHealth],
        ),
        (
            id(0x506),
            d.carol_counselling_case,
            d.counsellor,
            "meeting",
            "Session about family circumstances.",
            vec![SensitivityLabel::Family],
        ),
    ];
    for (i, (id, case_id, author, kind, body, labels)) in notes.into_iter().enumerate() {
        note::ActiveModel {
            id: Set(id),
            case_id: Set(case_id),
            kind: Set(kind.to_owned()),
            occurred_at: Set(now - Duration::days(30 - i as i64)),
            author_id: Set(author),
            body: Set(body.to_owned()),
            labels: Set(labels_to_json(&labels)),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    third_party_entry::ActiveModel {
        id: Set(id(0x601)),
        case_id: Set(d.alice_counselling_case),
        source: Set("Alice's flatmate".to_owned()),
        subject: Set("Alice's flatmate".to_owned()),
        body: Set("Flatmate reported being worried about Alice's wellbeing.".to_owned()),
        third_party_consented: Set(false),
        disclosure_justification: Set(None),
        recorded_by: Set(d.counsellor),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(d)
}

/// Demo consents for `serve --demo`, so outside audiences have something to see:
/// Alice consents to share her support summary and adjustments with the history
/// department, and notes (except SEXUAL_HEALTH) with her GP practice. Not part of
/// the tests' fixture, which starts with no consent in place.
pub async fn seed_sharing(db: &DatabaseConnection) -> AppResult<()> {
    let d = DEMO;
    let existing = entity::consent::Entity::find()
        .filter(entity::consent::Column::StudentId.eq(d.alice))
        .count(db)
        .await?;
    if existing > 0 {
        return Ok(());
    }
    let now = Utc::now();
    let consents = [
        (
            "department",
            "history".to_owned(),
            vec!["SUPPORT_SUMMARY", "ADJUSTMENTS"],
            vec![],
            "Exam adjustments.",
        ),
        (
            "partner",
            d.gp_practice.to_string(),
            vec!["IDENTITY", "CONTACT", "SUPPORT_SUMMARY", "CASE_NOTES"],
            vec!["SEXUAL_HEALTH"],
            "Continuity of care with my GP.",
        ),
    ];
    for (kind, reference, categories, excluded, purpose) in consents {
        entity::consent::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(d.alice),
            recipient_kind: Set(kind.to_owned()),
            recipient_ref: Set(Some(reference)),
            categories: Set(serde_json::json!(categories)),
            excluded_labels: Set(serde_json::json!(excluded)),
            case_id: Set(None),
            purpose: Set(purpose.to_owned()),
            given_at: Set(now),
            expires_at: Set(None),
            form_reference: Set(None),
            recorded_by: Set(d.alice),
            recorded_by_role: Set(Role::Student.as_str().to_owned()),
            withdrawn_at: Set(None),
            withdrawn_by: Set(None),
            withdrawal_reason: Set(None),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

impl Demo {
    /// The demo caller for each role: (label, token).
    pub fn callers(&self) -> Vec<(&'static str, Uuid, Role)> {
        vec![
            ("student (Alice)", self.alice, Role::Student),
            (
                "practitioner (counselling)",
                self.counsellor,
                Role::Practitioner,
            ),
            (
                "practitioner (mental_health)",
                self.mental_health_adviser,
                Role::Practitioner,
            ),
            (
                "service_lead (counselling)",
                self.counselling_lead,
                Role::ServiceLead,
            ),
            ("reception", self.reception, Role::Reception),
            ("analyst", self.analyst, Role::Analyst),
            ("it_support", self.it_support, Role::ItSupport),
            ("dpo", self.dpo, Role::Dpo),
            (
                "department (history)",
                self.history_department,
                Role::Department,
            ),
            (
                "university_service (accommodation)",
                self.accommodation,
                Role::UniversityService,
            ),
            ("partner (NHS trust)", self.nhs_trust, Role::Partner),
            ("partner (GP practice)", self.gp_practice, Role::Partner),
        ]
    }

    pub fn tokens(&self, auth: &Authenticator) -> AppResult<Vec<(String, String)>> {
        self.callers()
            .into_iter()
            .map(|(label, id, role)| {
                auth.issue(id, role, Duration::hours(8))
                    .map(|t| (label.to_owned(), t))
                    .map_err(|e| AppError::internal("demo token", e))
            })
            .collect()
    }
}
