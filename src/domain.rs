//! Domain types: enumerations stored as text in the database, and validated
//! input values. Everything from outside is parsed into these at the edge.

use crate::error::{AppError, AppResult};
use enumset::EnumSet;

/// An enumeration with one definition: its variants, their stored text form,
/// the list of all of them (`ALL`, `COUNT`) and sets of them (`EnumSet<Self>`,
/// no fixed ceiling on the number of variants).
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(async_graphql::Enum, enumset::EnumSetType, Debug, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const COUNT: usize = Self::ALL.len();

            /// The position of this variant in `ALL`.
            pub fn index(self) -> usize {
                self as usize
            }

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stored text form; unknown text is `None`.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;

text_enum!(
    /// The role a caller acts in. Attributes come from the database record.
    Role {
        Student => "student",
        Practitioner => "practitioner",
        ServiceLead => "service_lead",
        Reception => "reception",
        Analyst => "analyst",
        ItSupport => "it_support",
        Dpo => "dpo",
        Department => "department",
        UniversityService => "university_service",
        Partner => "partner",
        /// Manages the directory (staff, departments, university services,
        /// partner organisations); sees no student data.
        Admin => "admin",
    }
);

/// Where a caller of a role comes from and whom they act for. Every role is
/// named here: adding a role does not compile until it is placed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The student, about themself.
    Student,
    /// Student Support staff (a row of the `staff` table).
    Staff,
    /// An audience outside Student Support that calls the API (a department or
    /// university unit: a `staff` row; a partner: a `partner_organisation` row),
    /// seeing a student only under a consent or risk exception.
    Outside,
}

impl Role {
    pub fn audience(self) -> Audience {
        match self {
            Role::Student => Audience::Student,
            Role::Practitioner
            | Role::ServiceLead
            | Role::Reception
            | Role::Analyst
            | Role::ItSupport
            | Role::Dpo
            | Role::Admin => Audience::Staff,
            Role::Department | Role::UniversityService | Role::Partner => Audience::Outside,
        }
    }

    /// Departments, university services and partners: audiences outside Student
    /// Support, who see a student only under a consent or risk exception.
    pub fn is_outside(self) -> bool {
        self.audience() == Audience::Outside
    }

    /// Whether a caller of this role can be assigned cases and write notes.
    pub fn holds_cases(self) -> bool {
        match self {
            Role::Practitioner | Role::ServiceLead => true,
            Role::Student
            | Role::Reception
            | Role::Analyst
            | Role::ItSupport
            | Role::Dpo
            | Role::Department
            | Role::UniversityService
            | Role::Partner
            | Role::Admin => false,
        }
    }

    /// Staff of a Student Support service whom its service lead manages
    /// (creates and deactivates): practitioners and reception.
    pub fn managed_by_service_lead(self) -> bool {
        match self {
            Role::Practitioner | Role::Reception => true,
            Role::Student
            | Role::ServiceLead
            | Role::Analyst
            | Role::ItSupport
            | Role::Dpo
            | Role::Department
            | Role::UniversityService
            | Role::Partner
            | Role::Admin => false,
        }
    }

    /// What a member of staff of this role must be attached to; `None` for the
    /// roles that are not staff records (students, partner organisations).
    pub fn staff_attachment(self) -> Option<StaffAttachment> {
        match self {
            Role::Practitioner | Role::ServiceLead | Role::Reception => {
                Some(StaffAttachment::Service)
            }
            Role::Department => Some(StaffAttachment::Department),
            Role::UniversityService => Some(StaffAttachment::UniversityService),
            Role::Analyst | Role::ItSupport | Role::Dpo | Role::Admin => {
                Some(StaffAttachment::Nothing)
            }
            Role::Student | Role::Partner => None,
        }
    }
}

/// What a staff record of a role is attached to (exactly one, or nothing).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StaffAttachment {
    /// A Student Support service (a configured service name).
    Service,
    /// An active academic department.
    Department,
    /// An active university service (unit).
    UniversityService,
    /// Nothing: analysts, IT support, the DPO, administrators.
    Nothing,
}

text_enum!(
    /// The kind of a partner organisation.
    PartnerKind {
        NhsTrust => "nhs_trust",
        GpPractice => "gp_practice",
        FundingBody => "funding_body",
        Landlord => "landlord",
        Other => "other",
    }
);

text_enum!(
    /// Status of a support case.
    CaseStatus { Open => "open", Closed => "closed" }
);

text_enum!(
    /// Risk level recorded by the owning service. It never changes sharing by itself.
    RiskLevel { None => "none", Low => "low", Medium => "medium", High => "high" }
);

impl RiskLevel {
    pub fn rank(self) -> i32 {
        match self {
            RiskLevel::None => 0,
            RiskLevel::Low => 1,
            RiskLevel::Medium => 2,
            RiskLevel::High => 3,
        }
    }
}

text_enum!(
    /// Kind of case note.
    NoteKind { Meeting => "meeting", Communication => "communication", Action => "action" }
);

text_enum!(
    /// Sensitivity labels (special category data) carried by notes.
    SensitivityLabel {
        MentalHealth => "MENTAL_HEALTH",
        PhysicalHealth => "PHYSICAL_HEALTH",
        SelfHarm => "SELF_HARM",
        SubstanceUse => "SUBSTANCE_USE",
        SexualHealth => "SEXUAL_HEALTH",
        Safeguarding => "SAFEGUARDING",
        Criminal => "CRIMINAL",
        Finances => "FINANCES",
        GenderIdentity => "GENDER_IDENTITY",
        Pregnancy => "PREGNANCY",
        Family => "FAMILY",
    }
);

text_enum!(
    /// Who a consent or risk exception names. Departments, university services
    /// and partner organisations call the API; the others are recipients of
    /// disclosures made outside it.
    RecipientKind {
        Department => "department",
        UniversityService => "university_service",
        Partner => "partner",
        Gp => "gp",
        EmergencyContact => "emergency_contact",
        Research => "research",
    }
);

impl RecipientKind {
    /// The role a recipient of this kind calls the API in; `None` for recipients
    /// reached outside the API (by a recorded disclosure).
    pub fn caller_role(self) -> Option<Role> {
        match self {
            RecipientKind::Department => Some(Role::Department),
            RecipientKind::UniversityService => Some(Role::UniversityService),
            RecipientKind::Partner => Some(Role::Partner),
            RecipientKind::Gp | RecipientKind::EmergencyContact | RecipientKind::Research => None,
        }
    }

    /// Whether a recipient of this kind must be named (a department, unit or organisation).
    pub fn needs_ref(self) -> bool {
        self.caller_role().is_some()
    }
}

text_enum!(
    /// The data categories of the privacy model.
    DataCategory {
        Identity => "IDENTITY",
        Contact => "CONTACT",
        Demographic => "DEMOGRAPHIC",
        Academic => "ACADEMIC",
        TrustedContacts => "TRUSTED_CONTACTS",
        SupportSummary => "SUPPORT_SUMMARY",
        Adjustments => "ADJUSTMENTS",
        CaseNotes => "CASE_NOTES",
        Risk => "RISK",
        ThirdParty => "THIRD_PARTY",
    }
);

text_enum!(
    /// Grounds for sharing without consent.
    RiskGround {
        SeriousHarmToSelf => "serious_harm_to_self",
        HarmToOthers => "harm_to_others",
        Safeguarding => "safeguarding",
        LegalObligation => "legal_obligation",
        LifeThreatening => "life_threatening",
    }
);

text_enum!(
    /// Why the student's consent was not obtained.
    StudentPosition { Refused => "refused", LacksCapacity => "lacks_capacity" }
);

/// Parses a JSON array of enum names, dropping (and logging) unknown ones.
pub fn enum_list_from_json<T>(value: &serde_json::Value, parse: fn(&str) -> Option<T>) -> Vec<T> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| {
                    let parsed = v.as_str().and_then(parse);
                    if parsed.is_none() {
                        tracing::warn!(value = ?v, "unknown enumerated value in database");
                    }
                    parsed
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn enum_list_to_json(names: impl IntoIterator<Item = &'static str>) -> serde_json::Value {
    serde_json::Value::Array(
        names
            .into_iter()
            .map(|n| serde_json::Value::String(n.to_owned()))
            .collect(),
    )
}

/// A set of sensitivity labels.
pub type LabelSet = EnumSet<SensitivityLabel>;

impl SensitivityLabel {
    pub fn set_of(labels: &[SensitivityLabel]) -> LabelSet {
        labels.iter().copied().collect()
    }
}

/// Parses the JSON array of label names stored on a note. Unknown names are
/// kept out rather than failing the read; they are logged.
pub fn labels_from_json(value: &serde_json::Value) -> Vec<SensitivityLabel> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| {
                    let parsed = v.as_str().and_then(SensitivityLabel::parse);
                    if parsed.is_none() {
                        tracing::warn!(label = ?v, "unknown sensitivity label in database");
                    }
                    parsed
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn labels_to_json(labels: &[SensitivityLabel]) -> serde_json::Value {
    serde_json::Value::Array(
        labels
            .iter()
            .map(|l| serde_json::Value::String(l.as_str().to_owned()))
            .collect(),
    )
}

/// A required free-text value: trimmed, non-empty, bounded.
pub fn required_text(field: &str, value: &str, max: usize) -> AppResult<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(AppError::bad_input(field, "must not be empty"));
    }
    // A person's text: line breaks and tabs, never NUL or other control characters.
    if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::bad_input(
            field,
            "must not contain control characters",
        ));
    }
    if trimmed.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// An optional free-text value: empty means absent.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> AppResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, v, max).map(Some),
    }
}

pub fn email(field: &str, value: &str) -> AppResult<String> {
    let v = required_text(field, value, 254)?;
    if !email_address::EmailAddress::is_valid(&v) {
        return Err(AppError::bad_input(field, "is not a valid email address"));
    }
    Ok(v)
}

/// A slug naming a service, department or university unit: lowercase letters,
/// digits and underscores.
pub fn slug(field: &str, value: &str) -> AppResult<String> {
    let v = required_text(field, value, 64)?;
    if !v
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(AppError::bad_input(
            field,
            "must contain only lowercase letters, digits and underscores",
        ));
    }
    Ok(v)
}

pub fn student_number(field: &str, value: &str) -> AppResult<String> {
    let v = required_text(field, value, 32)?;
    if !v.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(AppError::bad_input(
            field,
            "must be letters and digits only",
        ));
    }
    Ok(v)
}

/// A calendar date within `[min, max]` (a person's date of birth, a period of
/// study): anything outside is a typing error or an attack, refused by name.
pub fn plausible_date(
    field: &str,
    value: chrono::NaiveDate,
    min: chrono::NaiveDate,
    max: chrono::NaiveDate,
) -> AppResult<chrono::NaiveDate> {
    if value < min || value > max {
        return Err(AppError::bad_input(
            field,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(value)
}

/// The earliest date any record of Student Support can carry.
pub fn earliest_date() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default()
}

pub fn uuid(field: &str, value: &str) -> AppResult<uuid::Uuid> {
    uuid::Uuid::parse_str(value.trim()).map_err(|_| AppError::bad_input(field, "is not a valid id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_round_trips_through_its_text_form() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(*r));
        }
        for l in SensitivityLabel::ALL {
            assert_eq!(SensitivityLabel::parse(l.as_str()), Some(*l));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn blank_required_text_is_rejected_with_the_field_name() {
        match required_text("input.name", "   ", 10) {
            Err(AppError::BadUserInput { field, .. }) => assert_eq!(field, "input.name"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn invalid_email_and_slug_are_rejected() {
        assert!(email("e", "not-an-email").is_err());
        assert!(email("e", "a@uni.ac.uk").is_ok());
        assert!(slug("s", "Mental Health").is_err());
        assert!(slug("s", "mental_health").is_ok());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn text_parsing_never_panics_and_never_keeps_a_control_character(text in "\\PC{0,40}|[\\x00-\\x1f]{0,5}.{0,20}") {
            if let Ok(parsed) = required_text("t", &text, 30) {
                prop_assert!(!parsed.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')));
                prop_assert!(!parsed.is_empty());
                prop_assert!(parsed.chars().count() <= 30);
            }
            let _ = email("e", &text);
            let _ = slug("s", &text);
            let _ = student_number("n", &text);
            let _ = uuid("u", &text);
        }

        #[test]
        fn a_nul_anywhere_in_text_is_refused(prefix in "[a-z]{1,10}", suffix in "[a-z]{1,10}") {
            let text = format!("{prefix}\u{0}{suffix}");
            prop_assert!(required_text("t", &text, 100).is_err());
        }

        #[test]
        fn plausible_dates_accept_exactly_the_range(days in -200_000i64..200_000) {
            let min = earliest_date();
            let max = chrono::NaiveDate::from_ymd_opt(2100, 1, 1).unwrap_or_default();
            if let Some(date) = min.checked_add_signed(chrono::Duration::days(days)) {
                let ok = plausible_date("d", date, min, max).is_ok();
                prop_assert_eq!(ok, date >= min && date <= max);
            }
        }
    }
}
