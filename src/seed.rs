//! A deterministic population generator for benchmarks and load tests:
//! `confide seed --students N --seed S`. The same seed gives the same data.

use crate::domain::{labels_to_json, SensitivityLabel};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use entity::{
    consent, enrolment, note, partner_organisation, risk_exception, risk_exception_recipient,
    staff, student, support_case, third_party_entry,
};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set,
    TransactionTrait,
};
use uuid::Uuid;

pub const SERVICES: &[&str] = &["counselling", "mental_health", "disability", "wellbeing"];
pub const DEPARTMENTS: &[&str] = &[
    "history",
    "physics",
    "law",
    "medicine",
    "english",
    "chemistry",
    "music",
    "economics",
    "computing",
    "geography",
    "nursing",
    "philosophy",
];
const UNITS: &[&str] = &[
    "accommodation",
    "security",
    "health_and_safety",
    "estates",
    "it_services",
];
const FIRST: &[&str] = &[
    "Alex", "Sam", "Jo", "Priya", "Tom", "Maria", "Kim", "Ade", "Lee", "Rosa", "Omar", "Chen",
    "Ella", "Noah", "Zara", "Ravi", "Maya", "Finn", "Isla", "Yusuf",
];
const LAST: &[&str] = &[
    "Smith", "Jones", "Shah", "Okafor", "Lopez", "Park", "Bello", "Diaz", "Evans", "Green", "Khan",
    "Wright", "Murphy", "Singh", "Taylor", "Brown", "Wilson", "Ahmed", "Clarke", "Patel",
];
const PHRASES: &[&str] = &[
    "Discussed sleep and workload.",
    "Reviewed the support plan.",
    "Student reports feeling more settled.",
    "Agreed a follow-up in two weeks.",
    "Referred to the GP for assessment.",
    "Talked through family circumstances.",
    "Exam stress; coping strategies agreed.",
    "Emailed the department about an extension.",
];

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct SeedOptions {
    pub students: usize,
    pub seed: u64,
    /// Average support cases per student.
    pub cases_per_student: usize,
    /// Average notes per case.
    pub notes_per_case: usize,
}

/// What was generated.
#[derive(Clone, Debug, Default)]
pub struct SeedSummary {
    pub staff: usize,
    pub partners: usize,
    pub students: usize,
    pub cases: usize,
    pub notes: usize,
    pub consents: usize,
    pub risk_exceptions: usize,
    pub third_party_entries: usize,
    /// A practitioner id per service, and a partner with consents, for load tests.
    pub practitioner_by_service: Vec<(String, Uuid)>,
    pub partner_with_consents: Option<Uuid>,
}

fn uuid(rng: &mut ChaCha8Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// About `mean` on average: uniform in 0..=2*mean.
fn around(rng: &mut ChaCha8Rng, mean: usize) -> usize {
    rng.random_range(0..=2 * mean)
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 1, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

const CHUNK: usize = 500;

async fn insert_chunks<A, E>(
    db: &DatabaseConnection,
    rows: Vec<A>,
    bar: &ProgressBar,
) -> AppResult<()>
where
    A: ActiveModelTrait<Entity = E> + Send + Clone,
    E: EntityTrait,
{
    let txn = db.begin().await?;
    for chunk in rows.chunks(CHUNK) {
        E::insert_many(chunk.to_vec()).exec(&txn).await?;
        bar.inc(chunk.len() as u64);
    }
    txn.commit().await?;
    Ok(())
}

/// Generates the population into an empty database.
pub async fn run(db: &DatabaseConnection, opts: SeedOptions) -> AppResult<SeedSummary> {
    if student::Entity::find().count(db).await? > 0 {
        return Err(AppError::Conflict(
            "the database already has students: seed an empty database".to_owned(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let t0 = epoch();
    let mut summary = SeedSummary::default();

    // Staff and partners.
    let mut staff_rows = Vec::new();
    let mut practitioners: Vec<(String, Vec<(Uuid, bool)>)> = Vec::new();
    let mut add_staff = |rng: &mut ChaCha8Rng,
                         role: &str,
                         service: Option<&str>,
                         dept: Option<&str>,
                         unit: Option<&str>,
                         mhp: bool| {
        let id = uuid(rng);
        let n = staff_rows.len();
        staff_rows.push(staff::ActiveModel {
            id: Set(id),
            name: Set(format!("{} {}", pick(rng, FIRST), pick(rng, LAST))),
            email: Set(format!("staff{n}.{}@uni.example", opts.seed)),
            role: Set(role.to_owned()),
            service: Set(service.map(str::to_owned)),
            department: Set(dept.map(str::to_owned)),
            university_unit: Set(unit.map(str::to_owned)),
            registered_mhp: Set(mhp),
            registration_body: Set(mhp.then(|| "HCPC".to_owned())),
            registration_number: Set(mhp.then(|| format!("PYL{n:05}"))),
            registration_expires_on: Set(
                mhp.then(|| t0.date_naive() + chrono::Duration::days(3 * 365))
            ),
            active: Set(true),
            created_at: Set(t0),
        });
        id
    };
    for service in SERVICES {
        let mut team = Vec::new();
        for i in 0..8 {
            let mhp = i % 2 == 0;
            team.push((
                add_staff(&mut rng, "practitioner", Some(service), None, None, mhp),
                mhp,
            ));
        }
        add_staff(&mut rng, "service_lead", Some(service), None, None, true);
        add_staff(&mut rng, "reception", Some(service), None, None, false);
        practitioners.push(((*service).to_owned(), team));
    }
    for dept in DEPARTMENTS {
        add_staff(&mut rng, "department", None, Some(dept), None, false);
    }
    for unit in UNITS {
        add_staff(
            &mut rng,
            "university_service",
            None,
            None,
            Some(unit),
            false,
        );
    }
    for role in ["analyst", "it_support", "dpo"] {
        add_staff(&mut rng, role, None, None, None, false);
    }
    summary.staff = staff_rows.len();
    let mut partners = Vec::new();
    let mut partner_rows = Vec::new();
    for (i, kind) in ["gp_practice", "nhs_trust", "landlord", "funding_body"]
        .iter()
        .cycle()
        .take(20)
        .enumerate()
    {
        let id = uuid(&mut rng);
        partners.push(id);
        partner_rows.push(partner_organisation::ActiveModel {
            id: Set(id),
            name: Set(format!("Partner {i} ({kind})")),
            kind: Set((*kind).to_owned()),
            idp_subject: Set(None),
            active: Set(true),
            created_at: Set(t0),
        });
    }
    summary.partners = partners.len();
    // The departments and university services the staff records name (ids
    // from their own stream, so the rest of the population is unchanged).
    let mut unit_rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0xd1ec_7047);
    let department_rows: Vec<entity::department::ActiveModel> = DEPARTMENTS
        .iter()
        .map(|code| entity::department::ActiveModel {
            id: Set(uuid(&mut unit_rng)),
            code: Set((*code).to_owned()),
            name: Set((*code).to_owned()),
            active: Set(true),
            created_at: Set(t0),
        })
        .collect();
    let unit_rows: Vec<entity::university_service::ActiveModel> = UNITS
        .iter()
        .map(|code| entity::university_service::ActiveModel {
            id: Set(uuid(&mut unit_rng)),
            code: Set((*code).to_owned()),
            name: Set((*code).to_owned()),
            active: Set(true),
            created_at: Set(t0),
        })
        .collect();
    summary.partner_with_consents = partners.first().copied();
    summary.practitioner_by_service = practitioners
        .iter()
        .filter_map(|(s, team)| team.first().map(|(id, _)| (s.clone(), *id)))
        .collect();

    // Students and everything about them, generated in memory first.
    let mut students = Vec::new();
    let mut enrolments = Vec::new();
    let mut cases = Vec::new();
    let mut notes = Vec::new();
    let mut third_party = Vec::new();
    let mut consents = Vec::new();
    let mut exceptions = Vec::new();
    let mut exception_recipients = Vec::new();
    for i in 0..opts.students {
        let id = uuid(&mut rng);
        let dept = *pick(&mut rng, DEPARTMENTS);
        let created = t0 + Duration::minutes(rng.random_range(0..60 * 24 * 300));
        students.push(student::ActiveModel {
            id: Set(id),
            student_number: Set(format!("G{:03}{i:07}", opts.seed % 1000)),
            name: Set(format!(
                "{} {}",
                pick(&mut rng, FIRST),
                pick(&mut rng, LAST)
            )),
            preferred_name: Set(None),
            email: Set(format!("s{i}.{}@student.uni.example", opts.seed)),
            phone: Set(Some(format!("07700 9{:05}", i % 100_000))),
            term_address: Set(Some(format!("Room {}, Hall {}", i % 400, i % 12))),
            home_address: Set(Some(format!("{} High Street", i % 200 + 1))),
            date_of_birth: Set(NaiveDate::from_ymd_opt(
                2000 + rng.random_range(0..7),
                rng.random_range(1..13),
                rng.random_range(1..29),
            )),
            department: Set(dept.to_owned()),
            course: Set(format!("BA {dept}")),
            emergency_contact: Set(Some("Parent, 07700 900000".to_owned())),
            gp_practice: Set(Some("Campus Health Centre".to_owned())),
            processing_restricted: Set(rng.random_ratio(1, 200)),
            created_at: Set(created),
            updated_at: Set(created),
        });
        enrolments.push(enrolment::ActiveModel {
            id: Set(uuid(&mut rng)),
            student_id: Set(id),
            starts_on: Set(created.date_naive()),
            ends_on: Set(None),
            created_at: Set(created),
        });
        let mut student_cases = Vec::new();
        for _ in 0..around(&mut rng, opts.cases_per_student) {
            let (service, team) = pick(&mut rng, &practitioners);
            let case_id = uuid(&mut rng);
            let opened = created + Duration::hours(rng.random_range(0..24 * 60));
            let open = rng.random_ratio(2, 5);
            let (assigned, _) = *pick(&mut rng, team);
            cases.push(support_case::ActiveModel {
                id: Set(case_id),
                student_id: Set(id),
                service: Set(service.clone()),
                status: Set(if open { "open" } else { "closed" }.to_owned()),
                opened_at: Set(opened),
                closed_at: Set(if open {
                    None
                } else {
                    Some(opened + Duration::days(30))
                }),
                assigned_to: Set(Some(assigned)),
                summary: Set(Some(format!("Support from {service}."))),
                adjustments: Set(rng
                    .random_ratio(1, 3)
                    .then(|| "Extra time in exams.".to_owned())),
                risk_level: Set(
                    (*pick(&mut rng, &["none", "none", "low", "medium", "high"])).to_owned(),
                ),
                created_at: Set(opened),
                updated_at: Set(opened),
            });
            student_cases.push(case_id);
            for k in 0..around(&mut rng, opts.notes_per_case) {
                let mut labels = Vec::new();
                for _ in 0..rng.random_range(0..3) {
                    let l = *pick(&mut rng, SensitivityLabel::ALL);
                    if !labels.contains(&l) {
                        labels.push(l);
                    }
                }
                notes.push(note::ActiveModel {
                    id: Set(uuid(&mut rng)),
                    case_id: Set(case_id),
                    kind: Set((*pick(&mut rng, &["meeting", "communication", "action"])).to_owned()),
                    occurred_at: Set(opened + Duration::days(k as i64 * 7)),
                    author_id: Set(assigned),
                    body: Set((*pick(&mut rng, PHRASES)).to_owned()),
                    labels: Set(labels_to_json(&labels)),
                    created_at: Set(opened),
                });
            }
            if rng.random_ratio(1, 20) {
                third_party.push(third_party_entry::ActiveModel {
                    id: Set(uuid(&mut rng)),
                    case_id: Set(case_id),
                    source: Set("Flatmate".to_owned()),
                    subject: Set("Flatmate".to_owned()),
                    body: Set("Reported concern for the student.".to_owned()),
                    third_party_consented: Set(false),
                    disclosure_justification: Set(None),
                    recorded_by: Set(assigned),
                    created_at: Set(opened),
                });
            }
        }
        // Consents: a partner (the first partner gets a third of all students), a department.
        if rng.random_ratio(1, 3) {
            let partner = if rng.random_ratio(1, 2) {
                partners[0]
            } else {
                *pick(&mut rng, &partners)
            };
            let withdrawn = rng.random_ratio(1, 10);
            consents.push(consent::ActiveModel {
                id: Set(uuid(&mut rng)),
                student_id: Set(id),
                recipient_kind: Set("partner".to_owned()),
                recipient_ref: Set(Some(partner.to_string())),
                categories: Set(serde_json::json!([
                    "IDENTITY",
                    "CONTACT",
                    "SUPPORT_SUMMARY",
                    "CASE_NOTES"
                ])),
                excluded_labels: Set(serde_json::json!(["SEXUAL_HEALTH"])),
                case_id: Set(None),
                purpose: Set("Continuity of care.".to_owned()),
                given_at: Set(created),
                expires_at: Set(None),
                form_reference: Set(Some(format!("F-{i}"))),
                recorded_by: Set(id),
                recorded_by_role: Set("student".to_owned()),
                withdrawn_at: Set(withdrawn.then(|| created + Duration::days(30))),
                withdrawn_by: Set(withdrawn.then_some(id)),
                withdrawal_reason: Set(withdrawn.then(|| "No longer needed".to_owned())),
                created_at: Set(created),
            });
        }
        if rng.random_ratio(1, 5) {
            consents.push(consent::ActiveModel {
                id: Set(uuid(&mut rng)),
                student_id: Set(id),
                recipient_kind: Set("department".to_owned()),
                recipient_ref: Set(Some(dept.to_owned())),
                categories: Set(serde_json::json!(["SUPPORT_SUMMARY", "ADJUSTMENTS"])),
                excluded_labels: Set(serde_json::json!([])),
                case_id: Set(None),
                purpose: Set("Exam adjustments.".to_owned()),
                given_at: Set(created),
                expires_at: Set(None),
                form_reference: Set(Some(format!("D-{i}"))),
                recorded_by: Set(id),
                recorded_by_role: Set("student".to_owned()),
                withdrawn_at: Set(None),
                withdrawn_by: Set(None),
                withdrawal_reason: Set(None),
                created_at: Set(created),
            });
        }
        if rng.random_ratio(1, 200) {
            let team = &practitioners[0].1;
            let registered: Vec<Uuid> =
                team.iter().filter(|(_, m)| *m).map(|(id, _)| *id).collect();
            let exception_id = uuid(&mut rng);
            let at = Utc::now() - Duration::hours(1);
            exceptions.push(risk_exception::ActiveModel {
                id: Set(exception_id),
                student_id: Set(id),
                ground: Set("serious_harm_to_self".to_owned()),
                student_position: Set("refused".to_owned()),
                recipients: Set(
                    serde_json::json!([{ "kind": "university_service", "ref": "accommodation" }]),
                ),
                categories: Set(serde_json::json!(["CONTACT", "TRUSTED_CONTACTS"])),
                justification: Set("Welfare check.".to_owned()),
                proposed_by: Set(registered[0]),
                proposed_at: Set(at),
                confirmed_by: Set(Some(registered[1 % registered.len()])),
                confirmed_at: Set(Some(at)),
                expires_at: Set(at + Duration::hours(72)),
                revoked_at: Set(None),
                revoked_by: Set(None),
                student_informed_at: Set(None),
                not_informed_reason: Set(None),
                concern_notice: Set(None),
                created_at: Set(at),
            });
            exception_recipients.push(risk_exception_recipient::ActiveModel {
                id: Set(uuid(&mut rng)),
                risk_exception_id: Set(exception_id),
                student_id: Set(id),
                recipient_kind: Set("university_service".to_owned()),
                recipient_ref: Set(Some("accommodation".to_owned())),
            });
        }
    }
    summary.students = students.len();
    summary.cases = cases.len();
    summary.notes = notes.len();
    summary.consents = consents.len();
    summary.risk_exceptions = exceptions.len();
    summary.third_party_entries = third_party.len();

    let total = staff_rows.len()
        + department_rows.len()
        + unit_rows.len()
        + partner_rows.len()
        + students.len()
        + enrolments.len()
        + cases.len()
        + notes.len()
        + third_party.len()
        + consents.len()
        + exceptions.len()
        + exception_recipients.len();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    insert_chunks(db, department_rows, &bar).await?;
    insert_chunks(db, unit_rows, &bar).await?;
    insert_chunks(db, staff_rows, &bar).await?;
    insert_chunks(db, partner_rows, &bar).await?;
    insert_chunks(db, students, &bar).await?;
    insert_chunks(db, enrolments, &bar).await?;
    insert_chunks(db, cases, &bar).await?;
    insert_chunks(db, notes, &bar).await?;
    insert_chunks(db, third_party, &bar).await?;
    insert_chunks(db, consents, &bar).await?;
    insert_chunks(db, exceptions, &bar).await?;
    insert_chunks(db, exception_recipients, &bar).await?;
    bar.finish();
    // Planner statistics for the bulk load: without them PostgreSQL guesses a
    // service has ~1% of the cases and hash-joins every student (20 ms instead of
    // 0.3 ms for a dashboard page) until autovacuum gets round to it.
    db.execute_unprepared("ANALYZE").await?;
    Ok(summary)
}

/// A fresh SQLite database, migrated and seeded with seed 7 (the directory
/// keeps it), for unit tests.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) async fn seeded(
    students: usize,
    cases_per_student: usize,
    notes_per_case: usize,
) -> (tempfile::TempDir, DatabaseConnection) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("seeded.db").display()
    );
    let db = crate::db::connect(&url).await.unwrap();
    crate::db::migrate(&db).await.unwrap();
    run(
        &db,
        SeedOptions {
            students,
            seed: 7,
            cases_per_student,
            notes_per_case,
        },
    )
    .await
    .unwrap();
    (dir, db)
}
