//! What consents and risk exceptions in force give an outside caller
//! (department, university service, partner). Loaded per request, never cached
//! across requests: a withdrawal or expiry changes the next answer.

use super::{ClassSet, FieldClass};
use crate::auth::Caller;
use crate::domain::{
    enum_list_from_json, DataCategory, LabelSet, RecipientKind, Role, SensitivityLabel,
};
use chrono::{DateTime, Utc};
use entity::{consent, legal_authority, risk_exception};
use std::collections::HashMap;
use uuid::Uuid;

/// The recipient an outside caller is, as consents and exceptions name it.
/// `None` (a misconfigured caller) opens nothing.
pub fn caller_recipient(caller: &Caller) -> Option<(RecipientKind, String)> {
    match caller.role {
        Role::Department => caller
            .department
            .clone()
            .map(|d| (RecipientKind::Department, d)),
        Role::UniversityService => caller
            .unit
            .clone()
            .map(|u| (RecipientKind::UniversityService, u)),
        Role::Partner => Some((RecipientKind::Partner, caller.id.to_string())),
        Role::Student
        | Role::Practitioner
        | Role::ServiceLead
        | Role::Reception
        | Role::Analyst
        | Role::ItSupport
        | Role::Dpo
        | Role::Admin => None,
    }
}

/// A consent covers its recipient while `given_at <= now < expires_at` and it is
/// not withdrawn.
/// Judged at any instant `at`: a later withdrawal does not undo an earlier one.
pub fn consent_in_force(c: &consent::Model, at: DateTime<Utc>) -> bool {
    c.given_at <= at && c.expires_at.is_none_or(|e| at < e) && c.withdrawn_at.is_none_or(|w| at < w)
}

/// An exception is active once confirmed, until it expires or is revoked.
pub fn exception_active(e: &risk_exception::Model, at: DateTime<Utc>) -> bool {
    e.confirmed_at.is_some_and(|c| c <= at)
        && e.revoked_at.is_none_or(|r| at < r)
        && at < e.expires_at
}

/// A legal authority is active from when it is recorded until it expires or is revoked.
pub fn legal_active(l: &legal_authority::Model, at: DateTime<Utc>) -> bool {
    l.recorded_at <= at && l.revoked_at.is_none_or(|r| at < r) && at < l.expires_at
}

/// What a risk exception never opens, whatever was stored: case notes and
/// third-party information (the output and the partner feed's SQL both use this).
pub fn never_by_exception() -> ClassSet {
    FieldClass::CaseNotes | FieldClass::ThirdParty
}

/// One basis of a release: a consent or an exception, its case scope and classes.
#[derive(Clone, Debug)]
pub struct Basis {
    pub label: String,
    pub case_id: Option<Uuid>,
    pub classes: ClassSet,
}

/// Access one outside caller has to one student.
#[derive(Clone, Debug, Default)]
pub struct StudentAccess {
    /// Classes covered by general consents.
    pub general: ClassSet,
    /// Classes covered by consents scoped to one case.
    pub per_case: HashMap<Uuid, ClassSet>,
    /// Classes opened by active risk exceptions.
    pub exception: ClassSet,
    /// Consents covering case notes: their case scope and excluded labels.
    pub note_consents: Vec<(Option<Uuid>, LabelSet)>,
    /// Classes in scope of active legal authorities naming the caller, for
    /// every case (and the student record).
    pub legal: ClassSet,
    /// Classes in scope of active legal authorities naming the caller for one case.
    pub legal_per_case: HashMap<Uuid, ClassSet>,
    /// Active exceptions naming the caller that carry a concern notice.
    pub notices: Vec<risk_exception::Model>,
    pub bases: Vec<Basis>,
}

impl StudentAccess {
    /// Classes consented anywhere for this student (the student record's view).
    /// (General consents only: a case-scoped consent opens its case, and through
    /// SUPPORT_SUMMARY the student's list of cases, which row scopes narrow to it.)
    pub fn student_consented(&self) -> ClassSet {
        let cases_gate = ClassSet::only(FieldClass::SupportSummary);
        self.per_case
            .values()
            .fold(self.general, |acc, b| acc | (*b & cases_gate))
    }

    /// Classes a legal authority puts in scope for the student record (a
    /// case-scoped one opens, through SUPPORT_SUMMARY, the student's list of cases).
    pub fn student_legal(&self) -> ClassSet {
        let cases_gate = ClassSet::only(FieldClass::SupportSummary);
        self.legal_per_case
            .values()
            .fold(self.legal, |acc, b| acc | (*b & cases_gate))
    }

    /// Classes a legal authority puts in scope for one case.
    pub fn case_legal(&self, case_id: Uuid) -> ClassSet {
        self.legal
            | self
                .legal_per_case
                .get(&case_id)
                .copied()
                .unwrap_or_default()
    }

    /// Every class some basis in force gives, anywhere (for the feed: what a
    /// recipient can still read after one basis ended).
    pub fn any_basis(&self) -> ClassSet {
        self.per_case
            .values()
            .chain(self.legal_per_case.values())
            .fold(self.general | self.exception | self.legal, |acc, c| {
                acc | *c
            })
    }

    /// Classes consented for one case: general consents and that case's consents.
    pub fn case_consented(&self, case_id: Uuid) -> ClassSet {
        self.general | self.per_case.get(&case_id).copied().unwrap_or_default()
    }

    /// Whether a note with these labels is excluded: any consent covering its
    /// case's notes that excludes one of its labels withholds it (the student's
    /// narrowest wish wins).
    pub fn label_excluded(&self, case_id: Uuid, labels: LabelSet) -> bool {
        self.note_consents
            .iter()
            .filter(|(scope, _)| scope.is_none_or(|c| c == case_id))
            .any(|(_, excluded)| !excluded.is_disjoint(labels))
    }

    /// The bases under which these classes of one record (a case, or the student
    /// record with `None`) were released, for the disclosure log. Classes open
    /// without consent (a department's IDENTITY) fall back to every basis that
    /// made the row visible.
    pub fn bases_for(&self, classes: ClassSet, case_id: Option<Uuid>) -> Vec<String> {
        let applicable: Vec<&Basis> = self
            .bases
            .iter()
            .filter(|b| b.case_id.is_none() || b.case_id == case_id)
            .collect();
        let covering: Vec<String> = applicable
            .iter()
            .filter(|b| !b.classes.is_disjoint(classes))
            .map(|b| b.label.clone())
            .collect();
        if covering.is_empty() {
            self.bases.iter().map(|b| b.label.clone()).collect()
        } else {
            covering
        }
    }
}

/// How an audit record names a consent as its basis.
pub fn consent_basis(id: Uuid) -> String {
    format!("consent:{id}")
}

/// How an audit record names a risk exception as its basis.
pub fn exception_basis(id: Uuid) -> String {
    format!("risk_exception:{id}")
}

/// How an audit record names a legal authority as its basis.
pub fn legal_basis(id: Uuid) -> String {
    format!("legal_authority:{id}")
}

/// Everything naming one recipient for some students: consents, risk
/// exceptions and legal authorities (in force or not).
#[derive(Clone, Debug, Default)]
pub struct Naming {
    pub consents: Vec<consent::Model>,
    pub exceptions: Vec<risk_exception::Model>,
    pub legal: Vec<legal_authority::Model>,
}

impl Naming {
    /// What names the recipient for one student.
    pub fn of(&self, student_id: Uuid) -> Naming {
        Naming {
            consents: self
                .consents
                .iter()
                .filter(|c| c.student_id == student_id)
                .cloned()
                .collect(),
            exceptions: self
                .exceptions
                .iter()
                .filter(|e| e.student_id == student_id)
                .cloned()
                .collect(),
            legal: self
                .legal
                .iter()
                .filter(|l| l.student_id == student_id)
                .cloned()
                .collect(),
        }
    }
}

/// Builds access per student from the consents, exceptions and legal
/// authorities naming the caller (already filtered to the caller as
/// recipient); only those in force count.
pub fn build(naming: &Naming, now: DateTime<Utc>) -> HashMap<Uuid, StudentAccess> {
    let Naming {
        consents,
        exceptions,
        legal,
    } = naming;
    let mut out: HashMap<Uuid, StudentAccess> = HashMap::new();
    for c in consents.iter().filter(|c| consent_in_force(c, now)) {
        let categories: Vec<DataCategory> = enum_list_from_json(&c.categories, DataCategory::parse);
        let classes = FieldClass::set_of(&categories);
        let access = out.entry(c.student_id).or_default();
        match c.case_id {
            None => access.general |= classes,
            Some(case) => *access.per_case.entry(case).or_default() |= classes,
        }
        if classes.contains(FieldClass::CaseNotes) {
            let excluded: Vec<SensitivityLabel> =
                enum_list_from_json(&c.excluded_labels, SensitivityLabel::parse);
            access
                .note_consents
                .push((c.case_id, SensitivityLabel::set_of(&excluded)));
        }
        access.bases.push(Basis {
            label: consent_basis(c.id),
            case_id: c.case_id,
            classes,
        });
    }
    for e in exceptions.iter().filter(|e| exception_active(e, now)) {
        let categories: Vec<DataCategory> = enum_list_from_json(&e.categories, DataCategory::parse);
        // Never notes or third-party information, whatever was stored; always
        // its concern notice.
        let classes =
            (FieldClass::set_of(&categories) - never_by_exception()) | FieldClass::ConcernNotice;
        let access = out.entry(e.student_id).or_default();
        access.exception |= classes;
        if e.concern_notice.is_some() {
            access.notices.push(e.clone());
        }
        access.bases.push(Basis {
            label: exception_basis(e.id),
            case_id: None,
            classes,
        });
    }
    for l in legal.iter().filter(|l| legal_active(l, now)) {
        // Exactly the scope the order names (notes and third-party entries
        // included when it says so).
        let categories: Vec<DataCategory> = enum_list_from_json(&l.categories, DataCategory::parse);
        let classes = FieldClass::set_of(&categories);
        let access = out.entry(l.student_id).or_default();
        match l.case_id {
            None => access.legal |= classes,
            Some(case) => *access.legal_per_case.entry(case).or_default() |= classes,
        }
        access.bases.push(Basis {
            label: legal_basis(l.id),
            case_id: l.case_id,
            classes,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_excluded_if_any_covering_consent_excludes_one_of_its_labels() {
        let case = Uuid::new_v4();
        let sexual = LabelSet::only(SensitivityLabel::SexualHealth);
        let mental = LabelSet::only(SensitivityLabel::MentalHealth);
        let access = StudentAccess {
            note_consents: vec![(None, sexual)],
            ..StudentAccess::default()
        };
        assert!(access.label_excluded(case, sexual | mental));
        assert!(!access.label_excluded(case, mental));
        let two = StudentAccess {
            note_consents: vec![(None, sexual), (Some(case), LabelSet::empty())],
            ..StudentAccess::default()
        };
        assert!(two.label_excluded(case, sexual), "any exclusion wins");
        assert!(!two.label_excluded(case, mental));
    }

    #[test]
    fn rust_forms_of_in_force_and_active_at_the_edge_instants() {
        let now = Utc::now();
        let consent = |given: DateTime<Utc>, expires, withdrawn| consent::Model {
            id: Uuid::new_v4(),
            student_id: Uuid::new_v4(),
            recipient_kind: "partner".into(),
            recipient_ref: None,
            categories: serde_json::json!([]),
            excluded_labels: serde_json::json!([]),
            case_id: None,
            purpose: "p".into(),
            given_at: given,
            expires_at: expires,
            form_reference: None,
            recorded_by: Uuid::new_v4(),
            recorded_by_role: "student".into(),
            withdrawn_at: withdrawn,
            withdrawn_by: None,
            withdrawal_reason: None,
            created_at: given,
        };
        let hour = chrono::Duration::hours(1);
        assert!(
            consent_in_force(&consent(now, None, None), now),
            "given at now"
        );
        assert!(
            !consent_in_force(&consent(now - hour, Some(now), None), now),
            "expiring at now"
        );
        assert!(
            !consent_in_force(&consent(now - hour, None, Some(now)), now),
            "withdrawn at now"
        );
    }
}
