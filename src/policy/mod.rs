//! The privacy guard. Every read and write of Confide goes through this module:
//! resolvers and services ask it, they never decide access themselves.
//!
//! A decision is a casbin evaluation of `(role, relation, object)` against the
//! policy file. The *relation* is derived from the data (own service, restricted,
//! consent in place, ...); see [`facts`]. Decisions are memoised per request in a
//! [`Mask`] per distinct set of facts, so a page of 50 records of the same kind
//! costs one casbin evaluation per field class, and a field read is an array index.

pub mod access;
pub mod facts;
mod rules;

use crate::auth::Caller;
use crate::domain::{DataCategory, Role};
use crate::error::{AppError, AppResult};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub use facts::{Facts, Relation};
pub use rules::Policy;

/// A class of guarded fields. Each belongs to one data category of the privacy model.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldClass {
    Identity,
    Contact,
    Demographic,
    Academic,
    TrustedContacts,
    SupportSummary,
    /// The free-text shareable summary: category SUPPORT_SUMMARY, but reception
    /// sees only status and dates.
    SummaryText,
    Adjustments,
    CaseNotes,
    Risk,
    ThirdParty,
    /// Consent records (not a data category: the workflow's own records).
    Consents,
    /// Risk exception records.
    RiskExceptions,
}

pub const FIELD_CLASS_COUNT: usize = 13;

impl FieldClass {
    pub const ALL: [FieldClass; FIELD_CLASS_COUNT] = [
        FieldClass::Identity,
        FieldClass::Contact,
        FieldClass::Demographic,
        FieldClass::Academic,
        FieldClass::TrustedContacts,
        FieldClass::SupportSummary,
        FieldClass::SummaryText,
        FieldClass::Adjustments,
        FieldClass::CaseNotes,
        FieldClass::Risk,
        FieldClass::ThirdParty,
        FieldClass::Consents,
        FieldClass::RiskExceptions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldClass::Identity => "IDENTITY",
            FieldClass::Contact => "CONTACT",
            FieldClass::Demographic => "DEMOGRAPHIC",
            FieldClass::Academic => "ACADEMIC",
            FieldClass::TrustedContacts => "TRUSTED_CONTACTS",
            FieldClass::SupportSummary => "SUPPORT_SUMMARY",
            FieldClass::SummaryText => "SUMMARY_TEXT",
            FieldClass::Adjustments => "ADJUSTMENTS",
            FieldClass::CaseNotes => "CASE_NOTES",
            FieldClass::Risk => "RISK",
            FieldClass::ThirdParty => "THIRD_PARTY",
            FieldClass::Consents => "CONSENTS",
            FieldClass::RiskExceptions => "RISK_EXCEPTIONS",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The field classes a data category consists of.
    pub fn of_category(category: DataCategory) -> &'static [FieldClass] {
        match category {
            DataCategory::Identity => &[FieldClass::Identity],
            DataCategory::Contact => &[FieldClass::Contact],
            DataCategory::Demographic => &[FieldClass::Demographic],
            DataCategory::Academic => &[FieldClass::Academic],
            DataCategory::TrustedContacts => &[FieldClass::TrustedContacts],
            DataCategory::SupportSummary => &[FieldClass::SupportSummary, FieldClass::SummaryText],
            DataCategory::Adjustments => &[FieldClass::Adjustments],
            DataCategory::CaseNotes => &[FieldClass::CaseNotes],
            DataCategory::Risk => &[FieldClass::Risk],
            DataCategory::ThirdParty => &[FieldClass::ThirdParty],
        }
    }

    /// The bits of the field classes of these categories.
    pub fn bits_of(categories: &[DataCategory]) -> u16 {
        categories
            .iter()
            .flat_map(|c| Self::of_category(*c))
            .fold(0, |acc, class| acc | class.bit())
    }

    /// Whether the class belongs to a case rather than to the student record.
    pub fn is_case_level(self) -> bool {
        matches!(
            self,
            FieldClass::SupportSummary
                | FieldClass::SummaryText
                | FieldClass::Adjustments
                | FieldClass::CaseNotes
                | FieldClass::Risk
                | FieldClass::ThirdParty
        )
    }
}

/// Why a field was redacted or denied.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    ConsentRequired,
    ConsentExcludesLabel,
    OutsideService,
    RoleNotPermitted,
    AccessViaSubjectAccessRequest,
    ProcessingRestricted,
    Pseudonymised,
}

impl Reason {
    pub const ALL: [Reason; 7] = [
        Reason::ConsentRequired,
        Reason::ConsentExcludesLabel,
        Reason::OutsideService,
        Reason::RoleNotPermitted,
        Reason::AccessViaSubjectAccessRequest,
        Reason::ProcessingRestricted,
        Reason::Pseudonymised,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ConsentRequired => "CONSENT_REQUIRED",
            Reason::ConsentExcludesLabel => "CONSENT_EXCLUDES_LABEL",
            Reason::OutsideService => "OUTSIDE_SERVICE",
            Reason::RoleNotPermitted => "ROLE_NOT_PERMITTED",
            Reason::AccessViaSubjectAccessRequest => "ACCESS_VIA_SUBJECT_ACCESS_REQUEST",
            Reason::ProcessingRestricted => "PROCESSING_RESTRICTED",
            Reason::Pseudonymised => "PSEUDONYMISED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// The three outcomes of a field decision.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    Redact(Reason),
    Deny(Reason),
}

impl Outcome {
    pub fn is_allow(self) -> bool {
        matches!(self, Outcome::Allow)
    }

    fn severity(self) -> u8 {
        match self {
            Outcome::Allow => 0,
            Outcome::Redact(_) => 1,
            Outcome::Deny(_) => 2,
        }
    }

    /// The more restrictive of two outcomes.
    pub fn stricter(self, other: Outcome) -> Outcome {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

/// A write the policy must permit before any side effect.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    CreateStudent,
    UpdateStudent,
    RecordEnrolment,
    OpenCase,
    AssignCase,
    CloseCase,
    AddNote,
    RecordThirdPartyEntry,
    RecordConsent,
    WithdrawConsent,
    ProposeRiskException,
    ConfirmRiskException,
    RevokeRiskException,
    RecordStudentInformed,
    ListRiskExceptions,
    RecordDisclosure,
    ReadOwnDisclosures,
    PartnerFeed,
    ReadStatistics,
}

impl Action {
    pub const ALL: [Action; 19] = [
        Action::CreateStudent,
        Action::UpdateStudent,
        Action::RecordEnrolment,
        Action::OpenCase,
        Action::AssignCase,
        Action::CloseCase,
        Action::AddNote,
        Action::RecordThirdPartyEntry,
        Action::RecordConsent,
        Action::WithdrawConsent,
        Action::ProposeRiskException,
        Action::ConfirmRiskException,
        Action::RevokeRiskException,
        Action::RecordStudentInformed,
        Action::ListRiskExceptions,
        Action::RecordDisclosure,
        Action::ReadOwnDisclosures,
        Action::PartnerFeed,
        Action::ReadStatistics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::CreateStudent => "create_student",
            Action::UpdateStudent => "update_student",
            Action::RecordEnrolment => "record_enrolment",
            Action::OpenCase => "open_case",
            Action::AssignCase => "assign_case",
            Action::CloseCase => "close_case",
            Action::AddNote => "add_note",
            Action::RecordThirdPartyEntry => "record_third_party_entry",
            Action::RecordConsent => "record_consent",
            Action::WithdrawConsent => "withdraw_consent",
            Action::ProposeRiskException => "propose_risk_exception",
            Action::ConfirmRiskException => "confirm_risk_exception",
            Action::RevokeRiskException => "revoke_risk_exception",
            Action::RecordStudentInformed => "record_student_informed",
            Action::ListRiskExceptions => "list_risk_exceptions",
            Action::RecordDisclosure => "record_disclosure",
            Action::ReadOwnDisclosures => "read_own_disclosures",
            Action::PartnerFeed => "partner_feed",
            Action::ReadStatistics => "read_statistics",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// The decisions for one record's facts, resolved lazily once per field class and
/// then read as plain values.
pub struct Mask {
    role: Role,
    facts: Facts,
    policy: Arc<Policy>,
    evaluations: Arc<AtomicU64>,
    cells: [OnceLock<Outcome>; FIELD_CLASS_COUNT],
}

impl Mask {
    pub fn outcome(&self, class: FieldClass) -> Outcome {
        *self.cells[class.index()].get_or_init(|| {
            self.evaluations.fetch_add(1, Ordering::Relaxed);
            self.policy.evaluate(
                self.role,
                self.facts.relation_for(class).as_str(),
                class.as_str(),
            )
        })
    }

    pub fn facts(&self) -> Facts {
        self.facts
    }
}

/// The per-request decision context: the caller, the policy, and the memoised
/// masks keyed by the full facts of a record (consent state included).
pub struct Decisions {
    caller: Arc<Caller>,
    now: chrono::DateTime<chrono::Utc>,
    policy: Arc<Policy>,
    masks: Mutex<HashMap<Facts, Arc<Mask>>>,
    evaluations: Arc<AtomicU64>,
}

impl Decisions {
    pub fn new(caller: Arc<Caller>, policy: Arc<Policy>) -> Self {
        Self {
            caller,
            now: chrono::Utc::now(),
            policy,
            masks: Mutex::new(HashMap::new()),
            evaluations: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The request's time: every consent and exception is judged at this instant.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.now
    }

    /// How many casbin evaluations this request has made.
    pub fn evaluations(&self) -> u64 {
        self.evaluations.load(Ordering::Relaxed)
    }

    /// The mask for a record with these facts, shared by every record with the same facts.
    pub fn mask(&self, facts: Facts) -> Arc<Mask> {
        let mut masks = match self.masks.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        masks
            .entry(facts)
            .or_insert_with(|| {
                Arc::new(Mask {
                    role: self.caller.role,
                    facts,
                    policy: self.policy.clone(),
                    evaluations: self.evaluations.clone(),
                    cells: Default::default(),
                })
            })
            .clone()
    }

    /// A write: permitted, or `FORBIDDEN` before any side effect.
    pub fn authorize(&self, action: Action, relation: Relation) -> AppResult<()> {
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        match self
            .policy
            .evaluate(self.caller.role, relation.as_str(), action.as_str())
        {
            Outcome::Allow => Ok(()),
            _ => Err(AppError::Forbidden(format!(
                "{} is not permitted for this caller",
                action.as_str()
            ))),
        }
    }
}

/// Loads the policy: the file at `path`, or the embedded default.
pub async fn load(path: Option<&Path>) -> AppResult<Arc<Policy>> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| {
            AppError::internal("policy", format!("cannot read {}: {e}", p.display()))
        })?,
        None => rules::DEFAULT_POLICY.to_owned(),
    };
    Ok(Arc::new(Policy::from_text(&text).await?))
}
