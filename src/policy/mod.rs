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
pub mod guarded;
pub mod live;
pub(crate) mod rules;
pub mod table;

use crate::auth::Caller;
use crate::domain::{text_enum, DataCategory, Role};
use crate::error::{AppError, AppResult};
use enumset::EnumSet;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub use facts::{Facts, Relation};
pub use guarded::{Guarded, Ledger, Permit, Record, Revealed};
pub use rules::Policy;
/// The shipped policy (served until a version is published, without `--policy-path`).
pub use rules::DEFAULT_POLICY;

text_enum!(
    /// A class of guarded fields. Each belongs to one data category of the
    /// privacy model, or is one of the workflows' own records.
    FieldClass {
        Identity => "IDENTITY",
        Contact => "CONTACT",
        Demographic => "DEMOGRAPHIC",
        Academic => "ACADEMIC",
        TrustedContacts => "TRUSTED_CONTACTS",
        SupportSummary => "SUPPORT_SUMMARY",
        /// The free-text shareable summary: category SUPPORT_SUMMARY, but
        /// reception sees only status and dates.
        SummaryText => "SUMMARY_TEXT",
        Adjustments => "ADJUSTMENTS",
        CaseNotes => "CASE_NOTES",
        Risk => "RISK",
        ThirdParty => "THIRD_PARTY",
        /// Consent records (the consent workflow's own records).
        Consents => "CONSENTS",
        /// Risk exception records.
        RiskExceptions => "RISK_EXCEPTIONS",
        /// The disclosure log of a student (who received their data, when, why).
        Disclosures => "DISCLOSURES",
        /// The caller's own account (`me`).
        Caller => "CALLER",
        /// Aggregate statistics (no individual rows).
        Statistics => "STATISTICS",
        /// The concern notice of an active risk exception naming the caller.
        ConcernNotice => "CONCERN_NOTICE",
        /// Disclosures made at once in a life-threatening emergency, and their reviews.
        EmergencyDisclosures => "EMERGENCY_DISCLOSURES",
        /// The partner feed's entries: whose readable data changed, and whose
        /// access began or ended.
        FeedEntries => "FEED_ENTRIES",
        /// Legal authorities for a disclosure (court orders, statutory duties).
        LegalAuthorities => "LEGAL_AUTHORITIES",
        /// The audit trail's records, as the audit query shows them.
        AuditTrail => "AUDIT_TRAIL",
        /// The directory's own records: staff accounts, departments, university
        /// services and partner organisations (no student data).
        Directory => "DIRECTORY",
        /// Restrictions of processing of a student (the DPO's records).
        Restrictions => "RESTRICTIONS",
        /// The rectification history of a student's details: previous and new
        /// values, who changed them, when and why.
        ChangeHistory => "CHANGE_HISTORY",
        /// The retention schedule (what is due for destruction, when and why)
        /// and legal holds (the DPO's records).
        Retention => "RETENTION",
        /// Erasure requests: the student's own, and the DPO's decisions.
        ErasureRequests => "ERASURE_REQUESTS",
        /// Subject access requests and their serious-harm reviews (the DPO;
        /// the student about their own requests).
        SubjectAccess => "SUBJECT_ACCESS",
        /// The pseudonymised, k-anonymised research extract (analysts): about
        /// no identified student.
        ResearchExtract => "RESEARCH_EXTRACT",
        /// The monitoring view: waiting times, caseloads, open risk
        /// exceptions and overdue reviews (service leads, the DPO).
        Monitoring => "MONITORING",
        /// The registered (persisted) operations outside audiences may run,
        /// and the data categories each can return (the DPO).
        Operations => "OPERATIONS",
    }
);

/// A set of field classes (no ceiling on how many classes there are).
pub type ClassSet = EnumSet<FieldClass>;

impl FieldClass {
    /// The field classes a data category consists of. Every category is named.
    pub fn of_category(category: DataCategory) -> ClassSet {
        match category {
            DataCategory::Identity => FieldClass::Identity.into(),
            DataCategory::Contact => FieldClass::Contact.into(),
            DataCategory::Demographic => FieldClass::Demographic.into(),
            DataCategory::Academic => FieldClass::Academic.into(),
            DataCategory::TrustedContacts => FieldClass::TrustedContacts.into(),
            DataCategory::SupportSummary => FieldClass::SupportSummary | FieldClass::SummaryText,
            DataCategory::Adjustments => FieldClass::Adjustments.into(),
            DataCategory::CaseNotes => FieldClass::CaseNotes.into(),
            DataCategory::Risk => FieldClass::Risk.into(),
            DataCategory::ThirdParty => FieldClass::ThirdParty.into(),
        }
    }

    /// The field classes of these categories.
    pub fn set_of(categories: &[DataCategory]) -> ClassSet {
        categories
            .iter()
            .fold(ClassSet::empty(), |acc, c| acc | Self::of_category(*c))
    }

    /// The data category the class belongs to; `None` for the workflows' own
    /// records and the classes about no student.
    pub fn category(self) -> Option<DataCategory> {
        match self {
            FieldClass::Identity => Some(DataCategory::Identity),
            FieldClass::Contact => Some(DataCategory::Contact),
            FieldClass::Demographic => Some(DataCategory::Demographic),
            FieldClass::Academic => Some(DataCategory::Academic),
            FieldClass::TrustedContacts => Some(DataCategory::TrustedContacts),
            FieldClass::SupportSummary | FieldClass::SummaryText => {
                Some(DataCategory::SupportSummary)
            }
            FieldClass::Adjustments => Some(DataCategory::Adjustments),
            FieldClass::CaseNotes => Some(DataCategory::CaseNotes),
            FieldClass::Risk => Some(DataCategory::Risk),
            FieldClass::ThirdParty => Some(DataCategory::ThirdParty),
            FieldClass::Consents
            | FieldClass::RiskExceptions
            | FieldClass::Disclosures
            | FieldClass::Caller
            | FieldClass::Statistics
            | FieldClass::ConcernNotice
            | FieldClass::EmergencyDisclosures
            | FieldClass::FeedEntries
            | FieldClass::LegalAuthorities
            | FieldClass::AuditTrail
            | FieldClass::Directory
            | FieldClass::Restrictions
            | FieldClass::ChangeHistory
            | FieldClass::Retention
            | FieldClass::ErasureRequests => None,
            FieldClass::SubjectAccess | FieldClass::ResearchExtract => None,
            FieldClass::Monitoring | FieldClass::Operations => None,
        }
    }

    /// Whether the class belongs to a case rather than to the student record:
    /// an outside audience reaches it only through the student's cases, which
    /// a consent opens only with SUPPORT_SUMMARY.
    pub fn is_case_level(self) -> bool {
        match self {
            FieldClass::SupportSummary
            | FieldClass::SummaryText
            | FieldClass::Adjustments
            | FieldClass::CaseNotes
            | FieldClass::Risk
            | FieldClass::ThirdParty => true,
            FieldClass::Identity
            | FieldClass::Contact
            | FieldClass::Demographic
            | FieldClass::Academic
            | FieldClass::TrustedContacts
            | FieldClass::Consents
            | FieldClass::RiskExceptions
            | FieldClass::Disclosures
            | FieldClass::Caller
            | FieldClass::Statistics
            | FieldClass::ConcernNotice
            | FieldClass::EmergencyDisclosures
            | FieldClass::FeedEntries
            | FieldClass::LegalAuthorities
            | FieldClass::AuditTrail
            | FieldClass::Directory
            | FieldClass::Restrictions
            | FieldClass::ChangeHistory
            | FieldClass::Retention
            | FieldClass::ErasureRequests => false,
            FieldClass::SubjectAccess | FieldClass::ResearchExtract => false,
            FieldClass::Monitoring | FieldClass::Operations => false,
        }
    }
}

text_enum!(
    /// Why a field was redacted or denied.
    Reason {
        ConsentRequired => "CONSENT_REQUIRED",
        ConsentExcludesLabel => "CONSENT_EXCLUDES_LABEL",
        OutsideService => "OUTSIDE_SERVICE",
        RoleNotPermitted => "ROLE_NOT_PERMITTED",
        AccessViaSubjectAccessRequest => "ACCESS_VIA_SUBJECT_ACCESS_REQUEST",
        ProcessingRestricted => "PROCESSING_RESTRICTED",
        Pseudonymised => "PSEUDONYMISED",
        /// The caller's access to the record ended (the partner feed).
        AccessEnded => "ACCESS_ENDED",
    }
);

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The three outcomes of a field decision.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allow,
    Redact(Reason),
    Deny(Reason),
}

impl Outcome {
    pub fn is_allow(self) -> bool {
        matches!(self, Outcome::Allow)
    }

    /// 0 allow, 1 redact, 2 deny: the severity, and the outcome's index in the
    /// audit ledger.
    pub fn severity(self) -> usize {
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

text_enum!(
    /// A write, or a route to records, that the policy must permit before any
    /// side effect or read.
    Action {
        CreateStudent => "create_student",
        UpdateStudent => "update_student",
        RecordEnrolment => "record_enrolment",
        OpenCase => "open_case",
        AssignCase => "assign_case",
        CloseCase => "close_case",
        AddNote => "add_note",
        RecordThirdPartyEntry => "record_third_party_entry",
        RecordConsent => "record_consent",
        WithdrawConsent => "withdraw_consent",
        ProposeRiskException => "propose_risk_exception",
        ConfirmRiskException => "confirm_risk_exception",
        RevokeRiskException => "revoke_risk_exception",
        RecordStudentInformed => "record_student_informed",
        ListRiskExceptions => "list_risk_exceptions",
        RecordDisclosure => "record_disclosure",
        ReadOwnDisclosures => "read_own_disclosures",
        /// A student reads who accessed or received their data (`myAccessLog`).
        ReadOwnAccessLog => "read_own_access_log",
        /// Query the audit trail (the DPO: all of it; a service lead: what the
        /// staff of their service did).
        QueryAuditTrail => "query_audit_trail",
        /// Set the UK GDPR conditions a kind of basis rests on (the DPO).
        ConfigureLawfulBasis => "configure_lawful_basis",
        PartnerFeed => "partner_feed",
        ReadStatistics => "read_statistics",
        /// Look up and list students (rows are then scoped by the caller's relation).
        ListStudents => "list_students",
        /// Look up and list support cases.
        ListCases => "list_cases",
        /// Record a member of staff's professional registration.
        RecordRegistration => "record_registration",
        /// Record a disclosure made at once in a life-threatening emergency.
        RecordEmergencyDisclosure => "record_emergency_disclosure",
        /// Complete the review of an emergency disclosure (not its discloser).
        ReviewEmergencyDisclosure => "review_emergency_disclosure",
        /// List emergency disclosures awaiting review (overdue ones first).
        ListEmergencyReviews => "list_emergency_reviews",
        /// Open a break-glass (emergency) read of a case outside one's service.
        OpenEmergencyAccess => "open_emergency_access",
        /// Review a break-glass read (the case's service lead, the DPO).
        ReviewEmergencyAccess => "review_emergency_access",
        /// List break-glass reads awaiting review.
        ListEmergencyAccessReviews => "list_emergency_access_reviews",
        /// Record, revoke, or record the informing of, a legal authority for a
        /// disclosure (court order, statutory duty).
        RecordLegalAuthority => "record_legal_authority",
        /// Create a member of staff (relation: see `facts::staff_relation`).
        CreateStaff => "create_staff",
        /// Deactivate a member of staff: refused at once on their next request.
        DeactivateStaff => "deactivate_staff",
        CreateDepartment => "create_department",
        DeactivateDepartment => "deactivate_department",
        CreateUniversityService => "create_university_service",
        DeactivateUniversityService => "deactivate_university_service",
        CreatePartnerOrganisation => "create_partner_organisation",
        DeactivatePartnerOrganisation => "deactivate_partner_organisation",
        /// Restrict processing of a student, record the student's being
        /// notified, lift the restriction (the DPO).
        RestrictProcessing => "restrict_processing",
        /// Read the retention schedule: what is due for destruction (the DPO).
        ReadRetention => "read_retention",
        /// List the registered operations and what each can return (the DPO).
        ListOperations => "list_operations",
        /// Place and lift a legal hold on a student's records (the DPO).
        PlaceLegalHold => "place_legal_hold",
        /// Request erasure of a student's records (the student themself; the
        /// DPO on their behalf), and list one's own requests.
        RequestErasure => "request_erasure",
        /// List and decide erasure requests (the DPO).
        DecideErasure => "decide_erasure",
        /// Open a subject access request for a student (the DPO).
        OpenSubjectAccessRequest => "open_subject_access_request",
        /// Make a subject access request for oneself (a student).
        RequestSubjectAccess => "request_subject_access",
        /// Extend a subject access request, flag items for a serious-harm
        /// review, record judgements and third-party disclosure
        /// justifications, finalise (the DPO).
        ManageSubjectAccessRequest => "manage_subject_access_request",
        /// List subject access requests (the DPO: all of them).
        ListSubjectAccessRequests => "list_subject_access_requests",
        /// Read one's own subject access requests (a student).
        ReadOwnSubjectAccessRequests => "read_own_subject_access_requests",
        /// Produce a subject access export (the DPO; the CLI acting as the DPO).
        ExportSubjectAccess => "export_subject_access",
        /// Produce a research extract (analysts; the CLI acting as one).
        ReadResearchExtract => "read_research_extract",
        /// Re-identify a research pseudonym with the key (the DPO; the CLI).
        ReidentifyResearchPseudonym => "reidentify_research_pseudonym",
        /// Read the monitoring view (a service lead: their own service; the DPO: all).
        ReadMonitoring => "read_monitoring",
    }
);

/// The decisions for one record's facts, resolved lazily once per field class and
/// then read as plain values.
pub struct Mask {
    role: Role,
    facts: Facts,
    policy: Arc<Policy>,
    evaluations: Arc<AtomicU64>,
    cells: [OnceLock<Outcome>; FieldClass::COUNT],
}

impl Mask {
    pub fn outcome(&self, class: FieldClass) -> Outcome {
        *self.cells[class.index()].get_or_init(|| {
            self.evaluations.fetch_add(1, Ordering::Relaxed);
            let outcome = self
                .policy
                .decide(self.role, self.facts.relation_for(class), class);
            crate::telemetry::decision(outcome);
            outcome
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
    request_id: Option<uuid::Uuid>,
    /// The writes that took effect in this request, audited with its records.
    writes: Mutex<Vec<Write>>,
}

/// A write that took effect: the action, the student whose record it was
/// (if any) and the record written. Audited with the request's other records,
/// in its transaction (so with the write, or not at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Write {
    pub action: Action,
    pub student_id: Option<uuid::Uuid>,
    pub record: uuid::Uuid,
}

impl Decisions {
    pub fn new(caller: Arc<Caller>, policy: Arc<Policy>) -> Self {
        Self {
            caller,
            // Microseconds: what PostgreSQL stores, so that the Rust and SQL
            // forms of "in force" judge the same instant.
            now: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6),
            policy,
            masks: Mutex::new(HashMap::new()),
            evaluations: Arc::new(AtomicU64::new(0)),
            request_id: None,
            writes: Mutex::new(Vec::new()),
        }
    }

    fn written(&self) -> std::sync::MutexGuard<'_, Vec<Write>> {
        match self.writes.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Notes a write that took effect, for the request's audit records. Every
    /// write a service makes for a caller notes itself here (the deny-all walk
    /// fails on a mutation that succeeds without its audit record).
    pub fn wrote(&self, action: Action, student_id: Option<uuid::Uuid>, record: uuid::Uuid) {
        self.written().push(Write {
            action,
            student_id,
            record,
        });
    }

    /// How many writes are noted: a mark to forget back to when a write's
    /// transaction rolls back.
    pub fn writes_mark(&self) -> usize {
        self.written().len()
    }

    /// Forgets the writes noted since `mark` (their transaction rolled back).
    pub fn forget_writes_since(&self, mark: usize) {
        self.written().truncate(mark);
    }

    /// The writes noted, taken for the audit records.
    pub fn take_writes(&self) -> Vec<Write> {
        std::mem::take(&mut *self.written())
    }

    /// The decisions of one request, named by its id (written to its audit records).
    pub fn for_request(mut self, request_id: uuid::Uuid) -> Self {
        self.request_id = Some(request_id);
        self
    }

    pub fn request_id(&self) -> Option<uuid::Uuid> {
        self.request_id
    }

    /// The version of the policy every decision of this request is made by.
    pub fn policy_version(&self) -> &str {
        self.policy.version()
    }

    /// Where this request's audit records come from: its id and policy version.
    pub fn origin(&self) -> crate::service::audit::Origin<'_> {
        crate::service::audit::Origin {
            request_id: self.request_id,
            policy_version: Some(self.policy.version()),
        }
    }

    /// The field classes the policy allows a caller of `role` under
    /// `relation` (decided once when the policy was loaded): for decisions about
    /// an audience rather than one record, e.g. whether a consent naming a
    /// recipient would be honoured, or which changes a recipient may read.
    pub fn allowed_for(&self, role: Role, relation: Relation) -> ClassSet {
        self.policy.allowed_classes(role, relation)
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
        // A caller attribute, constant for the request: part of the key all the same.
        let facts = Facts {
            professional: self.caller.registered_mhp,
            ..facts
        };
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

    /// Whether the caller's role may take this action under some relation: a
    /// route or write no relation opens is refused before any input is read or
    /// any record looked up (so it cannot tell a caller whether a record exists).
    /// (A set lookup made when the policy was loaded, not a casbin evaluation.)
    pub fn may(&self, action: Action) -> AppResult<()> {
        if self.policy.permits_somewhere(self.caller.role, action) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "{} is not permitted for this caller",
                action.as_str()
            )))
        }
    }

    /// A write: permitted, or `FORBIDDEN` before any side effect.
    pub fn authorize(&self, action: Action, relation: Relation) -> AppResult<()> {
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let outcome = self
            .policy
            .evaluate(self.caller.role, relation, action.as_str());
        crate::telemetry::decision(outcome);
        match outcome {
            Outcome::Allow => Ok(()),
            _ => Err(AppError::Forbidden(format!(
                "{} is not permitted for this caller",
                action.as_str()
            ))),
        }
    }
}

/// Loads the policy: the file at `path`, or the embedded default (named
/// `file:` or `embedded:` and the first 12 hex digits of its SHA-256).
pub async fn load(path: Option<&Path>) -> AppResult<Arc<Policy>> {
    Ok(Arc::new(load_text(path).await?))
}

pub(crate) async fn load_text(path: Option<&Path>) -> AppResult<Policy> {
    let (source, text) = match path {
        Some(p) => (
            "file",
            std::fs::read_to_string(p).map_err(|e| {
                AppError::internal("policy", format!("cannot read {}: {e}", p.display()))
            })?,
        ),
        None => ("embedded", rules::DEFAULT_POLICY.to_owned()),
    };
    let hash = live::sha256_hex(&text);
    let version = format!("{source}:{}", hash.get(..12).unwrap_or(&hash));
    Ok(Policy::from_text(&text).await?.with_version(version))
}

/// The policy a process outside the server (the command line) decides with:
/// the latest published version, else the file at `path`, else the default.
pub async fn current(
    db: &impl sea_orm::ConnectionTrait,
    path: Option<&Path>,
) -> AppResult<Arc<Policy>> {
    Ok(Arc::new(live::initial(db, path).await?))
}
