//! Records that can be read only through a decision.
//!
//! A [`Guarded`] record keeps its model private: the only reads are
//! [`Guarded::reveal`] (one field class, through the record's mask) and
//! [`Guarded::permit`] (the proof, for a child loader, that the caller may read a
//! class of this record). Every decision is written to the request's [`Ledger`]
//! once per record, class and outcome, for the audit trail.

use super::{ClassSet, Facts, FieldClass, Mask, Outcome, Reason};
use crate::auth::Caller;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// A stored record with an id.
pub trait Record {
    fn record_id(&self) -> Uuid;
}

macro_rules! record {
    ($($model:path),+ $(,)?) => {
        $(impl Record for $model {
            fn record_id(&self) -> Uuid {
                self.id
            }
        })+
    };
}

record!(
    entity::student::Model,
    entity::support_case::Model,
    entity::note::Model,
    entity::third_party_entry::Model,
    entity::enrolment::Model,
    entity::consent::Model,
    entity::risk_exception::Model,
    entity::staff::Model,
    entity::audit_event::Model,
    entity::emergency_disclosure::Model,
    entity::emergency_access::Model,
    entity::legal_authority::Model,
    entity::department::Model,
    entity::university_service::Model,
    entity::partner_organisation::Model,
    entity::restriction::Model,
    entity::student_change::Model,
    entity::legal_hold::Model,
    entity::erasure_request::Model,
    entity::subject_access_request::Model,
    entity::serious_harm_review::Model,
    entity::registered_operation::Model,
    Caller,
);

/// Configuration, keyed by its kind: one record per kind, no id of its own.
impl Record for entity::lawful_basis::Model {
    fn record_id(&self) -> Uuid {
        Uuid::nil()
    }
}

impl Record for crate::service::retention::DueEntry {
    fn record_id(&self) -> Uuid {
        self.student_id
    }
}

impl Record for crate::service::partner_feed::Entry {
    fn record_id(&self) -> Uuid {
        self.key.student_id
    }
}

/// What a decision gave for one field of one record.
#[derive(Debug)]
pub enum Revealed<T> {
    /// Allowed: the value (which may itself be absent).
    Value(Option<T>),
    /// `null`, listed in `extensions.redactions` with the reason.
    Redacted(Reason),
    /// `null`, with a FORBIDDEN error at the field's path.
    Denied(Reason),
}

/// Field classes allowed / redacted / denied, per (student, case or the student
/// record itself): what the audit trail of a request is written from.
pub type Releases = HashMap<(Uuid, Option<Uuid>), [ClassSet; 3]>;

/// The request's record of decisions, for the audit trail.
#[derive(Default)]
pub struct Ledger {
    releases: Mutex<Releases>,
}

impl Ledger {
    fn record(&self, subject: (Uuid, Option<Uuid>), class: FieldClass, outcome: Outcome) {
        let mut releases = match self.releases.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        releases.entry(subject).or_default()[outcome.severity()] |= class;
    }

    /// Everything decided so far (the ledger is left empty).
    pub fn take(&self) -> Releases {
        match self.releases.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

/// A record whose fields can be read only through the caller's mask.
pub struct Guarded<M> {
    model: Arc<M>,
    mask: Arc<Mask>,
    /// The student (and case) the record is about, for the audit trail; `None`
    /// for records about no student (the staff directory, the caller's account,
    /// aggregate statistics).
    subject: Option<(Uuid, Option<Uuid>)>,
    /// Which outcomes of which classes were already written to the ledger.
    seen: [AtomicU8; FieldClass::COUNT],
}

impl<M: Record> Guarded<M> {
    /// A record about `student` (and, for case data, `case`) under `mask`.
    pub fn new(model: Arc<M>, mask: Arc<Mask>, subject: Option<(Uuid, Option<Uuid>)>) -> Self {
        Guarded {
            model,
            mask,
            subject,
            seen: std::array::from_fn(|_| AtomicU8::new(0)),
        }
    }

    /// The record's id: an identifier, readable without a decision.
    pub fn id(&self) -> Uuid {
        self.model.record_id()
    }

    /// Another record read as part of this one, under the same mask and subject
    /// (the member of staff a case is assigned to, the author of a note): each of
    /// its fields is decided by the class of the field that reached it.
    pub fn part<C: Record>(&self, model: Arc<C>) -> Guarded<C> {
        Guarded::new(model, self.mask.clone(), self.subject)
    }

    /// The facts the record's mask was decided from.
    pub fn facts(&self) -> Facts {
        self.mask.facts()
    }

    /// The decision for one class of this record, written to the ledger.
    pub fn outcome(&self, ledger: &Ledger, class: FieldClass) -> Outcome {
        let outcome = self.mask.outcome(class);
        let bit = 1u8 << outcome.severity();
        if let Some(subject) = self.subject {
            if self.seen[class.index()].fetch_or(bit, Ordering::Relaxed) & bit == 0 {
                ledger.record(subject, class, outcome);
            }
        }
        outcome
    }

    /// One field of class `class`: the value read by `read` if allowed.
    pub fn reveal<'s, T>(
        &'s self,
        ledger: &Ledger,
        class: FieldClass,
        read: impl FnOnce(&'s M) -> Option<T>,
    ) -> Revealed<T> {
        match self.outcome(ledger, class) {
            Outcome::Allow => Revealed::Value(read(&self.model)),
            Outcome::Redact(reason) => Revealed::Redacted(reason),
            Outcome::Deny(reason) => Revealed::Denied(reason),
        }
    }

    /// The proof that class `class` of this record may be read: what a child
    /// loader (cases of a student, notes of a case, ...) takes.
    pub fn permit(&self, ledger: &Ledger, class: FieldClass) -> Revealed<Permit<'_, M>> {
        match self.outcome(ledger, class) {
            Outcome::Allow => Revealed::Value(Some(Permit { record: self })),
            Outcome::Redact(reason) => Revealed::Redacted(reason),
            Outcome::Deny(reason) => Revealed::Denied(reason),
        }
    }
}

/// An allowed decision on one class of one record. Only [`Guarded::permit`]
/// makes one.
pub struct Permit<'a, M> {
    record: &'a Guarded<M>,
}

impl<M: Record> Permit<'_, M> {
    /// The id of the record the permit is for.
    pub fn id(&self) -> Uuid {
        self.record.id()
    }

    /// A child record read under this record's mask and subject (an enrolment
    /// of a student, a third-party entry of a case).
    pub fn child<C: Record>(&self, model: Arc<C>) -> Guarded<C> {
        Guarded::new(model, self.record.mask.clone(), self.record.subject)
    }

    /// The parent's facts, from which a child's own facts are derived.
    pub fn facts(&self) -> Facts {
        self.record.facts()
    }

    pub fn subject(&self) -> Option<(Uuid, Option<Uuid>)> {
        self.record.subject
    }
}
