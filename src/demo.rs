//! Demo data: several services and departments, students, cases, notes with
//! labels, a third-party entry and partner organisations. Ids are fixed so that
//! seeding twice changes nothing. Tests use the same data as their fixture.

use crate::auth::Authenticator;
use crate::domain::{labels_to_json, Role, SensitivityLabel};
use crate::error::{AppError, AppResult};
use chrono::{Duration, NaiveDate, Utc};
use entity::{
    department, enrolment, note, partner_organisation, staff, student, support_case,
    third_party_entry, university_service,
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
    /// Administrator (the directory; no student data).
    pub admin: Uuid,
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
    admin: id(0x10c),
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

/// A demo staff member (one `staff` row).
struct StaffSeed {
    id: Uuid,
    name: &'static str,
    email: &'static str,
    role: Role,
    /// The support service of practitioners, service leads and reception.
    service: Option<&'static str>,
    /// The academic department of department callers.
    department: Option<&'static str>,
    /// The university service (unit) of university service callers.
    unit: Option<&'static str>,
    /// A registered mental health professional.
    registered_mhp: bool,
    active: bool,
}

/// A demo partner organisation (one `partner_organisation` row, active).
struct PartnerSeed {
    id: Uuid,
    name: &'static str,
    kind: &'static str,
}

/// A demo student (one `student` row and its enrolment). Contact details, date
/// of birth, emergency contact and GP are the same for every demo student.
struct StudentSeed {
    id: Uuid,
    number: &'static str,
    name: &'static str,
    preferred_name: Option<&'static str>,
    email: &'static str,
    department: &'static str,
    course: &'static str,
    processing_restricted: bool,
}

/// A demo support case (one open `support_case` row).
struct CaseSeed {
    id: Uuid,
    student: Uuid,
    service: &'static str,
    assigned_to: Option<Uuid>,
    summary: &'static str,
    adjustments: Option<&'static str>,
    risk_level: &'static str,
}

/// A demo case note (one `note` row).
struct NoteSeed {
    id: Uuid,
    case: Uuid,
    author: Uuid,
    kind: &'static str,
    body: &'static str,
    labels: &'static [SensitivityLabel],
}

/// A demo consent given by Alice herself (one `consent` row), for `serve --demo`.
struct ConsentSeed {
    recipient_kind: &'static str,
    recipient_ref: String,
    categories: &'static [&'static str],
    excluded_labels: &'static [&'static str],
    purpose: &'static str,
}

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
        StaffSeed {
            id: d.counsellor,
            name: "Priya Shah",
            email: "p.shah@uni.example",
            role: Role::Practitioner,
            service: Some("counselling"),
            department: None,
            unit: None,
            registered_mhp: true,
            active: true,
        },
        StaffSeed {
            id: d.mental_health_adviser,
            name: "Tom Okafor",
            email: "t.okafor@uni.example",
            role: Role::Practitioner,
            service: Some("mental_health"),
            department: None,
            unit: None,
            registered_mhp: true,
            active: true,
        },
        StaffSeed {
            id: d.disability_adviser,
            name: "Jo Evans",
            email: "j.evans@uni.example",
            role: Role::Practitioner,
            service: Some("disability"),
            department: None,
            unit: None,
            registered_mhp: false,
            active: true,
        },
        StaffSeed {
            id: d.counselling_lead,
            name: "Maria Lopez",
            email: "m.lopez@uni.example",
            role: Role::ServiceLead,
            service: Some("counselling"),
            department: None,
            unit: None,
            registered_mhp: true,
            active: true,
        },
        StaffSeed {
            id: d.reception,
            name: "Sam Green",
            email: "s.green@uni.example",
            role: Role::Reception,
            service: Some("counselling"),
            department: None,
            unit: None,
            registered_mhp: false,
            active: true,
        },
        StaffSeed {
            id: d.analyst,
            name: "Ade Bello",
            email: "a.bello@uni.example",
            role: Role::Analyst,
            service: None,
            department: None,
            unit: None,
            registered_mhp: false,
            active: true,
        },
        StaffSeed {
            id: d.it_support,
            name: "Kim Park",
            email: "k.park@uni.example",
            role: Role::ItSupport,
            service: None,
            department: None,
            unit: None,
            registered_mhp: false,
            active: true,
        },
        StaffSeed {
            id: d.dpo,
            name: "Rosa Diaz",
            email: "dpo@uni.example",
            role: Role::Dpo,
            service: None,
            department: None,
            unit: None,
            registered_mhp: false,
            active: true,
        },
        StaffSeed {
            id: d.history_department,
            name: "History Office",
            email: "history@uni.example",
            role: Role::Department,
            service: None,
            department: Some("history"),
            unit: None,
            registered_mhp: false,
            active: true,
        },
        StaffSeed {
            id: d.accommodation,
            name: "Accommodation Office",
            email: "accommodation@uni.example",
            role: Role::UniversityService,
            service: None,
            department: None,
            unit: Some("accommodation"),
            registered_mhp: false,
            active: true,
        },
        StaffSeed {
            id: d.former_counsellor,
            name: "Lee Former",
            email: "l.former@uni.example",
            role: Role::Practitioner,
            service: Some("counselling"),
            department: None,
            unit: None,
            registered_mhp: true,
            active: false,
        },
        StaffSeed {
            id: d.admin,
            name: "Sam Okafor",
            email: "admin@uni.example",
            role: Role::Admin,
            service: None,
            department: None,
            unit: None,
            registered_mhp: false,
            active: true,
        },
    ];
    // The departments and university services the demo's callers and students name.
    for (code, name) in [("history", "History"), ("physics", "Physics")] {
        department::ActiveModel {
            id: Set(Uuid::new_v4()),
            code: Set(code.to_owned()),
            name: Set(name.to_owned()),
            active: Set(true),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    university_service::ActiveModel {
        id: Set(Uuid::new_v4()),
        code: Set("accommodation".to_owned()),
        name: Set("Accommodation Office".to_owned()),
        active: Set(true),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    for s in staff_rows {
        staff::ActiveModel {
            id: Set(s.id),
            name: Set(s.name.to_owned()),
            email: Set(s.email.to_owned()),
            role: Set(s.role.as_str().to_owned()),
            service: Set(s.service.map(str::to_owned)),
            department: Set(s.department.map(str::to_owned)),
            university_unit: Set(s.unit.map(str::to_owned)),
            registered_mhp: Set(s.registered_mhp),
            // Registered professionals have a registration on file until 2030.
            registration_body: Set(s.registered_mhp.then(|| "HCPC".to_owned())),
            registration_number: Set(s
                .registered_mhp
                .then(|| format!("PYL{:05}", s.id.as_u128() & 0xffff))),
            registration_expires_on: Set(s
                .registered_mhp
                .then(|| NaiveDate::from_ymd_opt(2030, 12, 31).unwrap_or_default())),
            active: Set(s.active),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    let partners = [
        PartnerSeed {
            id: d.nhs_trust,
            name: "Northshire NHS Foundation Trust",
            kind: "nhs_trust",
        },
        PartnerSeed {
            id: d.landlord_a,
            name: "Castle Lettings",
            kind: "landlord",
        },
        PartnerSeed {
            id: d.landlord_b,
            name: "Riverside Homes",
            kind: "landlord",
        },
        PartnerSeed {
            id: d.gp_practice,
            name: "Campus Health Centre",
            kind: "gp_practice",
        },
    ];
    for p in partners {
        partner_organisation::ActiveModel {
            id: Set(p.id),
            name: Set(p.name.to_owned()),
            kind: Set(p.kind.to_owned()),
            // Partners sign in with Confide's id; a mapped identity provider
            // subject is set with `createPartnerOrganisation`.
            idp_subject: Set(None),
            active: Set(true),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    let students = [
        StudentSeed {
            id: d.alice,
            number: "S1000001",
            name: "Alice Example",
            preferred_name: Some("Ali"),
            email: "alice@student.uni.example",
            department: "history",
            course: "BA History",
            processing_restricted: false,
        },
        StudentSeed {
            id: d.bob,
            number: "S1000002",
            name: "Bob Example",
            preferred_name: None,
            email: "bob@student.uni.example",
            department: "physics",
            course: "MPhys Physics",
            processing_restricted: false,
        },
        StudentSeed {
            id: d.carol,
            number: "S1000003",
            name: "Carol Example",
            preferred_name: None,
            email: "carol@student.uni.example",
            department: "history",
            course: "BA History",
            processing_restricted: true,
        },
    ];
    for s in students {
        student::ActiveModel {
            id: Set(s.id),
            student_number: Set(s.number.to_owned()),
            name: Set(s.name.to_owned()),
            preferred_name: Set(s.preferred_name.map(str::to_owned)),
            email: Set(s.email.to_owned()),
            phone: Set(Some("07700 900123".to_owned())),
            term_address: Set(Some("Room 12, Hall A, Campus".to_owned())),
            home_address: Set(Some("1 High Street, Hometown".to_owned())),
            date_of_birth: Set(NaiveDate::from_ymd_opt(2004, 3, 14)),
            department: Set(s.department.to_owned()),
            course: Set(s.course.to_owned()),
            emergency_contact: Set(Some("Parent, 07700 900456".to_owned())),
            gp_practice: Set(Some("Campus Health Centre".to_owned())),
            processing_restricted: Set(s.processing_restricted),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        enrolment::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(s.id),
            starts_on: Set(NaiveDate::from_ymd_opt(2023, 9, 25).unwrap_or_default()),
            ends_on: Set(None),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    let cases = [
        CaseSeed {
            id: d.alice_counselling_case,
            student: d.alice,
            service: "counselling",
            assigned_to: Some(d.counsellor),
            summary: "Weekly counselling sessions.",
            adjustments: Some("Extra time in exams (25%)."),
            risk_level: "medium",
        },
        CaseSeed {
            id: d.alice_mental_health_case,
            student: d.alice,
            service: "mental_health",
            assigned_to: Some(d.mental_health_adviser),
            summary: "Mental health support plan in place.",
            adjustments: None,
            risk_level: "high",
        },
        CaseSeed {
            id: d.bob_disability_case,
            student: d.bob,
            service: "disability",
            assigned_to: Some(d.disability_adviser),
            summary: "Disability support agreed.",
            adjustments: Some("Accessible room; lecture recordings."),
            risk_level: "none",
        },
        CaseSeed {
            id: d.carol_counselling_case,
            student: d.carol,
            service: "counselling",
            assigned_to: Some(d.counsellor),
            summary: "Counselling sessions.",
            adjustments: None,
            risk_level: "low",
        },
    ];
    for (i, c) in cases.into_iter().enumerate() {
        let opened = now - Duration::days(60 - 10 * i as i64);
        support_case::ActiveModel {
            id: Set(c.id),
            student_id: Set(c.student),
            service: Set(c.service.to_owned()),
            status: Set("open".to_owned()),
            opened_at: Set(opened),
            closed_at: Set(None),
            assigned_to: Set(c.assigned_to),
            summary: Set(Some(c.summary.to_owned())),
            adjustments: Set(c.adjustments.map(str::to_owned)),
            risk_level: Set(c.risk_level.to_owned()),
            created_at: Set(opened),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    let notes = [
        NoteSeed {
            id: id(0x501),
            case: d.alice_counselling_case,
            author: d.counsellor,
            kind: "meeting",
            body: "First session: low mood since term began.",
            labels: &[SensitivityLabel::MentalHealth],
        },
        NoteSeed {
            id: d.alice_sexual_health_note,
            case: d.alice_counselling_case,
            author: d.counsellor,
            kind: "meeting",
            body: "Discussed a sexual health clinic referral.",
            labels: &[SensitivityLabel::SexualHealth],
        },
        NoteSeed {
            id: id(0x503),
            case: d.alice_counselling_case,
            author: d.counsellor,
            kind: "action",
            body: "Wrote to department about exam arrangements.",
            labels: &[],
        },
        NoteSeed {
            id: id(0x504),
            case: d.alice_mental_health_case,
            author: d.mental_health_adviser,
            kind: "meeting",
            body: "Risk assessment completed; safety plan agreed.",
            labels: &[SensitivityLabel::MentalHealth, SensitivityLabel::SelfHarm],
        },
        NoteSeed {
            id: id(0x505),
            case: d.bob_disability_case,
            author: d.disability_adviser,
            kind: "communication",
            body: "Emailed accessibility requirements to estates.",
            labels: &[SensitivityLabel::PhysicalHealth],
        },
        NoteSeed {
            id: id(0x506),
            case: d.carol_counselling_case,
            author: d.counsellor,
            kind: "meeting",
            body: "Session about family circumstances.",
            labels: &[SensitivityLabel::Family],
        },
    ];
    for (i, n) in notes.into_iter().enumerate() {
        note::ActiveModel {
            id: Set(n.id),
            case_id: Set(n.case),
            kind: Set(n.kind.to_owned()),
            occurred_at: Set(now - Duration::days(30 - i as i64)),
            author_id: Set(n.author),
            body: Set(n.body.to_owned()),
            labels: Set(labels_to_json(n.labels)),
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
        ConsentSeed {
            recipient_kind: "department",
            recipient_ref: "history".to_owned(),
            categories: &["SUPPORT_SUMMARY", "ADJUSTMENTS"],
            excluded_labels: &[],
            purpose: "Exam adjustments.",
        },
        ConsentSeed {
            recipient_kind: "partner",
            recipient_ref: d.gp_practice.to_string(),
            categories: &["IDENTITY", "CONTACT", "SUPPORT_SUMMARY", "CASE_NOTES"],
            excluded_labels: &["SEXUAL_HEALTH"],
            purpose: "Continuity of care with my GP.",
        },
    ];
    for c in consents {
        entity::consent::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(d.alice),
            recipient_kind: Set(c.recipient_kind.to_owned()),
            recipient_ref: Set(Some(c.recipient_ref)),
            categories: Set(serde_json::json!(c.categories)),
            excluded_labels: Set(serde_json::json!(c.excluded_labels)),
            case_id: Set(None),
            purpose: Set(c.purpose.to_owned()),
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
    seed_research_cohort(db).await
}

/// A research cohort for `serve --demo`: twelve students (six in history with
/// counselling cases, six in physics with wellbeing cases), each with a
/// research consent (SUPPORT_SUMMARY, ACADEMIC, CASE_NOTES), so that
/// `researchExtract` has rows at k = 5. Not part of the tests' fixture.
async fn seed_research_cohort(db: &DatabaseConnection) -> AppResult<()> {
    let now = Utc::now();
    let d = DEMO;
    let opened_from = NaiveDate::from_ymd_opt(2025, 10, 1)
        .and_then(|d| d.and_hms_opt(10, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or(now);
    for i in 0..12u32 {
        let (department, course, service) = if i < 6 {
            ("history", "BA History", "counselling")
        } else {
            ("physics", "MPhys Physics", "wellbeing")
        };
        let sid = id(0x900 + u128::from(i));
        student::ActiveModel {
            id: Set(sid),
            student_number: Set(format!("S19000{i:02}")),
            name: Set(format!("Cohort Student {i:02}")),
            preferred_name: Set(None),
            email: Set(format!("cohort{i:02}@student.uni.example")),
            phone: Set(None),
            term_address: Set(None),
            home_address: Set(None),
            date_of_birth: Set(None),
            department: Set(department.to_owned()),
            course: Set(course.to_owned()),
            emergency_contact: Set(None),
            gp_practice: Set(None),
            processing_restricted: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
        enrolment::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(sid),
            starts_on: Set(NaiveDate::from_ymd_opt(2024, 9, 23).unwrap_or_default()),
            ends_on: Set(None),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
        let opened = opened_from + Duration::days(i64::from(i) * 5);
        let case = Uuid::new_v4();
        support_case::ActiveModel {
            id: Set(case),
            student_id: Set(sid),
            service: Set(service.to_owned()),
            status: Set(if i % 2 == 0 { "closed" } else { "open" }.to_owned()),
            opened_at: Set(opened),
            closed_at: Set((i % 2 == 0).then(|| opened + Duration::days(40))),
            assigned_to: Set(None),
            summary: Set(Some("Regular support sessions.".to_owned())),
            adjustments: Set(None),
            risk_level: Set("low".to_owned()),
            created_at: Set(opened),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
        note::ActiveModel {
            id: Set(Uuid::new_v4()),
            case_id: Set(case),
            kind: Set("meeting".to_owned()),
            occurred_at: Set(opened),
            author_id: Set(d.counsellor),
            body: Set("First meeting.".to_owned()),
            labels: Set(labels_to_json(&[SensitivityLabel::MentalHealth])),
            created_at: Set(opened),
        }
        .insert(db)
        .await?;
        entity::consent::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(sid),
            recipient_kind: Set("research".to_owned()),
            recipient_ref: Set(None),
            categories: Set(serde_json::json!([
                "SUPPORT_SUMMARY",
                "ACADEMIC",
                "CASE_NOTES"
            ])),
            excluded_labels: Set(serde_json::json!([])),
            case_id: Set(None),
            purpose: Set("Research and monitoring of Student Support.".to_owned()),
            given_at: Set(now),
            expires_at: Set(None),
            form_reference: Set(Some(format!("RES-{i:02}"))),
            recorded_by: Set(d.counsellor),
            recorded_by_role: Set(Role::Practitioner.as_str().to_owned()),
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
            ("admin", self.admin, Role::Admin),
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
