//! The partner feed: for an outside caller (department, university service,
//! partner), one entry per student for whom, within a sync window, something the
//! caller can read changed, its access began, or its access ended.
//!
//! Entries are ordered by a key `(changedAt, studentId)`, where `changedAt` is
//! the latest such event of the student in the window; pages continue after the
//! last key seen (keyset), over a window fixed by the first page. Removing or
//! adding one student (a withdrawal during a sync) therefore never moves another
//! across a page boundary.

use crate::domain::{enum_list_from_json, DataCategory, LabelSet, SensitivityLabel};
use crate::error::AppResult;
use crate::policy::access::{
    self, caller_recipient, consent_in_force, exception_active, legal_active, Naming, StudentAccess,
};
use crate::policy::facts::{self, RowScope};
use crate::policy::{Action, ClassSet, Decisions, FieldClass, Relation};
use crate::service::access as loader;
use chrono::{DateTime, Utc};
use entity::{
    change_event, consent, legal_authority, risk_exception, risk_exception_recipient, student,
};
use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, Func, Order, Query, SelectStatement, UnionType,
};
use sea_orm::{ConnectionTrait, FromQueryResult};
use std::collections::HashMap;
use uuid::Uuid;

/// The changes a sync covers: `(since, until]` (`since` absent: a first, full
/// sync). `until` trails the clock by the settling time, so every change
/// stamped before it has committed by the time it is served.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
    /// The instant the sync's keys are decided at (the first page's clock): a
    /// consent given or withdrawn during the sync cannot move a student's key,
    /// so no student is skipped or served twice. What an entry says, and
    /// whether it is shown at all, is decided at each page's own clock.
    pub as_of: DateTime<Utc>,
}

/// The key of an entry: pages continue after the last one seen.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub at: DateTime<Utc>,
    pub student_id: Uuid,
}

/// Why a recipient's access to a student ended (or narrowed).
#[derive(Copy, Clone, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum EndReason {
    /// The consent was withdrawn.
    Withdrawn,
    /// The consent or exception reached its expiry.
    Expired,
    /// The risk exception was revoked.
    Revoked,
    /// Case notes are still shared, but notes carrying these labels no longer are.
    LabelExcluded,
}

/// One basis of access that ended in the window, and what it no longer gives.
#[derive(Clone, Debug)]
pub struct AccessEnded {
    pub reason: EndReason,
    /// `consent:<id>`, `risk_exception:<id>` or `legal_authority:<id>`.
    pub basis: String,
    pub at: DateTime<Utc>,
    /// Categories the recipient can no longer read (another basis may still give
    /// the rest of what this one gave).
    pub categories: Vec<DataCategory>,
    /// Sensitivity labels whose notes the recipient can no longer read.
    pub labels: Vec<SensitivityLabel>,
}

/// One student in the feed.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: Position,
    /// Categories the recipient can read now that changed in the window.
    pub changed: Vec<DataCategory>,
    /// A consent or exception naming the recipient began in the window: read
    /// the student in full.
    pub access_began: bool,
    pub ended: Vec<AccessEnded>,
}

#[derive(FromQueryResult)]
struct Key {
    sid: Uuid,
    key_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct Changed {
    student_id: Uuid,
    class: String,
}

const SID: &str = "sid";
const AT: &str = "at";
const KEY_AT: &str = "key_at";

fn within(column: Expr, window: &Window) -> Condition {
    let mut c = Condition::all().add(column.clone().lte(window.until));
    if let Some(since) = window.since {
        c = c.add(column.gt(since));
    }
    c
}

/// The student in `sid` is one the caller may see at `at` (and not restricted).
fn visible(decisions: &Decisions, at: DateTime<Utc>, sid: Expr) -> Condition {
    let mut q = Query::select();
    q.expr(Expr::val(1))
        .from(student::Entity)
        .and_where(Expr::col((student::Entity, student::Column::Id)).eq(sid))
        .and_where(Expr::col((student::Entity, student::Column::ProcessingRestricted)).eq(false));
    match facts::student_rows(decisions.caller(), at) {
        RowScope::All => {}
        RowScope::Condition(c) => {
            q.cond_where(c);
        }
        RowScope::Nothing => return Condition::any().add(Expr::val(1).eq(0)),
    }
    Condition::all().add(Expr::exists(q.to_owned()))
}

fn keyed(sid: Expr, at: Expr) -> SelectStatement {
    Query::select()
        .expr_as(sid, Alias::new(SID))
        .expr_as(at, Alias::new(AT))
        .to_owned()
}

/// Every (student, instant) of the window that puts a student in the feed,
/// as one `UNION ALL`; `None` for a caller with no feed.
fn events(
    decisions: &Decisions,
    window: &Window,
    from: Option<DateTime<Utc>>,
) -> AppResult<Option<SelectStatement>> {
    // After a cursor at instant `from`, only students with an event at or after
    // it can have a key after it, and their latest event is among those: the
    // bound is exact, and each page reads only what lies ahead of it.
    let span = |column: Expr| {
        let c = within(column.clone(), window);
        match from {
            Some(from) => c.add(column.gte(from)),
            None => c,
        }
    };
    decisions.authorize(Action::PartnerFeed, Relation::None)?;
    let caller = decisions.caller();
    let Some(recipient) = caller_recipient(caller) else {
        return Ok(None);
    };
    // The entries themselves are FEED_ENTRIES: a caller who may not read them
    // has an empty feed (a row it may not see does not exist).
    if !decisions
        .allowed_for(caller.role, Relation::None)
        .contains(FieldClass::FeedEntries)
    {
        return Ok(None);
    }
    // Keys are decided as of the sync's first page (see `Window::as_of`).
    let now = window.as_of;
    let Some(readable) = facts::readable_changes(decisions, now) else {
        return Ok(None);
    };
    let (kind, reference) = &recipient;

    // Something the caller can read now changed.
    let ce = |c| Expr::col((change_event::Entity, c));
    let mut changes = keyed(
        ce(change_event::Column::StudentId),
        ce(change_event::Column::OccurredAt),
    );
    changes
        .from(change_event::Entity)
        .cond_where(span(ce(change_event::Column::OccurredAt)))
        .cond_where(readable)
        .cond_where(visible(decisions, now, ce(change_event::Column::StudentId)));

    // Consents naming the caller: given (and in force now), withdrawn, expired.
    // (A department consent counts for a student of that department only; a
    // student leaving it withdraws it, so a withdrawal is signalled wherever
    // the student is now. A department consent for another department's
    // student is never recorded.)
    let co = |c| Expr::col((consent::Entity, c));
    let names_caller = || {
        Condition::all()
            .add(co(consent::Column::RecipientKind).eq(kind.as_str()))
            .add(co(consent::Column::RecipientRef).eq(reference.clone()))
    };
    let naming_consent = || {
        names_caller().add(facts::own_department(
            caller,
            co(consent::Column::StudentId),
        ))
    };
    let mut given = keyed(co(consent::Column::StudentId), co(consent::Column::GivenAt));
    given
        .from(consent::Entity)
        .cond_where(naming_consent())
        .cond_where(span(co(consent::Column::GivenAt)))
        .cond_where(facts::consent_in_force_sql(now))
        .cond_where(visible(decisions, now, co(consent::Column::StudentId)));
    let mut withdrawn = keyed(
        co(consent::Column::StudentId),
        co(consent::Column::WithdrawnAt),
    );
    withdrawn
        .from(consent::Entity)
        .cond_where(names_caller())
        .cond_where(span(co(consent::Column::WithdrawnAt)))
        .and_where(co(consent::Column::GivenAt).lt(co(consent::Column::WithdrawnAt)))
        .cond_where(
            Condition::any()
                .add(co(consent::Column::ExpiresAt).is_null())
                .add(co(consent::Column::WithdrawnAt).lt(co(consent::Column::ExpiresAt))),
        );
    let mut expired = keyed(
        co(consent::Column::StudentId),
        co(consent::Column::ExpiresAt),
    );
    expired
        .from(consent::Entity)
        .cond_where(naming_consent())
        .cond_where(span(co(consent::Column::ExpiresAt)))
        .and_where(co(consent::Column::GivenAt).lt(co(consent::Column::ExpiresAt)))
        .cond_where(
            Condition::any()
                .add(co(consent::Column::WithdrawnAt).is_null())
                .add(co(consent::Column::WithdrawnAt).gte(co(consent::Column::ExpiresAt))),
        );

    // Risk exceptions naming the caller: confirmed (and active now), revoked, expired.
    let re = |c| Expr::col((risk_exception::Entity, c));
    let rr = |c| Expr::col((risk_exception_recipient::Entity, c));
    let exceptions = |at: Expr| {
        let mut q = keyed(rr(risk_exception_recipient::Column::StudentId), at);
        q.from(risk_exception_recipient::Entity)
            .inner_join(
                risk_exception::Entity,
                re(risk_exception::Column::Id)
                    .eq(rr(risk_exception_recipient::Column::RiskExceptionId)),
            )
            .and_where(rr(risk_exception_recipient::Column::RecipientKind).eq(kind.as_str()))
            .and_where(rr(risk_exception_recipient::Column::RecipientRef).eq(reference.clone()))
            .and_where(re(risk_exception::Column::ConfirmedAt).is_not_null());
        q
    };
    let mut confirmed = exceptions(re(risk_exception::Column::ConfirmedAt));
    confirmed
        .cond_where(span(re(risk_exception::Column::ConfirmedAt)))
        .cond_where(facts::exception_active_sql(now))
        .cond_where(visible(
            decisions,
            now,
            rr(risk_exception_recipient::Column::StudentId),
        ));
    let mut revoked = exceptions(re(risk_exception::Column::RevokedAt));
    revoked
        .cond_where(span(re(risk_exception::Column::RevokedAt)))
        .and_where(
            re(risk_exception::Column::ConfirmedAt).lt(re(risk_exception::Column::RevokedAt)),
        )
        .and_where(re(risk_exception::Column::RevokedAt).lt(re(risk_exception::Column::ExpiresAt)));
    let mut lapsed = exceptions(re(risk_exception::Column::ExpiresAt));
    lapsed
        .cond_where(span(re(risk_exception::Column::ExpiresAt)))
        .and_where(
            re(risk_exception::Column::ConfirmedAt).lt(re(risk_exception::Column::ExpiresAt)),
        )
        .cond_where(
            Condition::any()
                .add(re(risk_exception::Column::RevokedAt).is_null())
                .add(
                    re(risk_exception::Column::RevokedAt)
                        .gte(re(risk_exception::Column::ExpiresAt)),
                ),
        );

    // Legal authorities naming the caller: recorded (and active now), revoked, expired.
    let la = |c| Expr::col((legal_authority::Entity, c));
    let authorities = |at: Expr| {
        let mut q = keyed(la(legal_authority::Column::StudentId), at);
        q.from(legal_authority::Entity)
            .and_where(la(legal_authority::Column::RecipientKind).eq(kind.as_str()))
            .and_where(la(legal_authority::Column::RecipientRef).eq(reference.clone()));
        q
    };
    let mut ordered = authorities(la(legal_authority::Column::RecordedAt));
    ordered
        .cond_where(span(la(legal_authority::Column::RecordedAt)))
        .cond_where(facts::legal_active_sql(now))
        .cond_where(visible(
            decisions,
            now,
            la(legal_authority::Column::StudentId),
        ));
    let mut withdrawn_order = authorities(la(legal_authority::Column::RevokedAt));
    withdrawn_order
        .cond_where(span(la(legal_authority::Column::RevokedAt)))
        .and_where(
            la(legal_authority::Column::RecordedAt).lt(la(legal_authority::Column::RevokedAt)),
        )
        .and_where(
            la(legal_authority::Column::RevokedAt).lt(la(legal_authority::Column::ExpiresAt)),
        );
    let mut order_lapsed = authorities(la(legal_authority::Column::ExpiresAt));
    order_lapsed
        .cond_where(span(la(legal_authority::Column::ExpiresAt)))
        .and_where(
            la(legal_authority::Column::RecordedAt).lt(la(legal_authority::Column::ExpiresAt)),
        )
        .cond_where(
            Condition::any()
                .add(la(legal_authority::Column::RevokedAt).is_null())
                .add(
                    la(legal_authority::Column::RevokedAt)
                        .gte(la(legal_authority::Column::ExpiresAt)),
                ),
        );

    for part in [
        given,
        withdrawn,
        expired,
        confirmed,
        revoked,
        lapsed,
        ordered,
        withdrawn_order,
        order_lapsed,
    ] {
        changes.union(UnionType::All, part);
    }
    Ok(Some(changes))
}

/// Students of the window, one row each with its key, in key order.
fn keys(events: SelectStatement) -> SelectStatement {
    let latest = || Func::max(Expr::col(Alias::new(AT)));
    Query::select()
        .column(Alias::new(SID))
        .expr_as(latest(), Alias::new(KEY_AT))
        .from_subquery(events, Alias::new("feed_event"))
        .group_by_col(Alias::new(SID))
        .to_owned()
}

/// One page of the feed, and the caller's access to its students now (read
/// with the same statements, for the guard to reuse).
#[derive(Default)]
pub struct FeedPage {
    pub entries: Vec<Entry>,
    pub access: HashMap<Uuid, StudentAccess>,
}

/// One page of the feed: at most `limit` entries after `after`.
pub async fn page(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    window: Window,
    after: Option<Position>,
    limit: u64,
) -> AppResult<FeedPage> {
    let Some(events) = events(decisions, &window, after.map(|a| a.at))? else {
        return Ok(FeedPage::default());
    };
    let mut q = keys(events);
    if let Some(after) = after {
        let latest = || Expr::expr(Func::max(Expr::col(Alias::new(AT))));
        q.cond_having(
            Condition::any().add(latest().gt(after.at)).add(
                Condition::all()
                    .add(latest().eq(after.at))
                    .add(Expr::col(Alias::new(SID)).gt(after.student_id)),
            ),
        );
    }
    q.order_by(Alias::new(KEY_AT), Order::Asc)
        .order_by(Alias::new(SID), Order::Asc)
        .limit(limit);
    let backend = db.get_database_backend();
    let keys: Vec<Key> = Key::find_by_statement(backend.build(&q)).all(db).await?;
    if keys.is_empty() {
        return Ok(FeedPage::default());
    }
    let ids: Vec<Uuid> = keys.iter().map(|k| k.sid).collect();
    let changed = changed_classes(db, decisions, &window, &ids).await?;
    let Some(recipient) = caller_recipient(decisions.caller()) else {
        return Ok(FeedPage::default());
    };
    let naming = loader::naming(db, &recipient, &ids, true).await?;
    let access = access::build(&naming, decisions.now());
    let nothing = StudentAccess::default();
    let entries = keys
        .into_iter()
        .map(|k| {
            let current = access.get(&k.sid).unwrap_or(&nothing);
            let (access_began, ended) =
                changes_of_access(&naming.of(k.sid), current, &window, decisions.now());
            Entry {
                key: Position {
                    at: k.key_at,
                    student_id: k.sid,
                },
                changed: categories(changed.get(&k.sid).copied().unwrap_or_default()),
                access_began,
                ended,
            }
        })
        .collect();
    Ok(FeedPage { entries, access })
}

/// How many students the window holds.
pub async fn count(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    window: Window,
) -> AppResult<u64> {
    #[derive(FromQueryResult)]
    struct Count {
        n: i64,
    }
    let Some(events) = events(decisions, &window, None)? else {
        return Ok(0);
    };
    let q = Query::select()
        .expr_as(Expr::col(Alias::new(SID)).count(), Alias::new("n"))
        .from_subquery(keys(events), Alias::new("feed_key"))
        .to_owned();
    let backend = db.get_database_backend();
    let n = Count::find_by_statement(backend.build(&q))
        .one(db)
        .await?
        .map_or(0, |c| c.n);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The readable classes that changed in the window, per student of the page.
async fn changed_classes(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    window: &Window,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, ClassSet>> {
    let Some(readable) = facts::readable_changes(decisions, decisions.now()) else {
        return Ok(HashMap::new());
    };
    let ce = |c| Expr::col((change_event::Entity, c));
    let q = Query::select()
        .distinct()
        .column((change_event::Entity, change_event::Column::StudentId))
        .column((change_event::Entity, change_event::Column::Class))
        .from(change_event::Entity)
        .and_where(ce(change_event::Column::StudentId).is_in(ids.iter().copied()))
        .cond_where(within(ce(change_event::Column::OccurredAt), window))
        .cond_where(readable)
        .to_owned();
    let backend = db.get_database_backend();
    let rows = Changed::find_by_statement(backend.build(&q))
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, ClassSet> = HashMap::new();
    for row in rows {
        if let Some(class) = FieldClass::parse(&row.class) {
            *out.entry(row.student_id).or_default() |= class;
        }
    }
    Ok(out)
}

fn categories(classes: ClassSet) -> Vec<DataCategory> {
    let mut out: Vec<DataCategory> = classes.iter().filter_map(|c| c.category()).collect();
    out.sort_by_key(|c| c.as_str());
    out.dedup();
    out
}

/// Whether access began in the window, and what ended in it, for one student
/// (from everything naming the recipient for them, in force or not, and the
/// access those in force give now, read once for the page).
fn changes_of_access(
    naming: &Naming,
    current: &StudentAccess,
    window: &Window,
    now: DateTime<Utc>,
) -> (bool, Vec<AccessEnded>) {
    let in_window = |t: DateTime<Utc>| window.since.is_none_or(|s| s < t) && t <= window.until;
    // What is still readable where an ended basis applied: a general basis is
    // compared with what every case still has (what only one case keeps counts
    // as lost: the recipient re-reads the student), a case-scoped one with what
    // its case still has.
    let still = |case: Option<Uuid>| match case {
        None => current.general | current.exception | current.legal,
        Some(c) => current.case_consented(c) | current.exception | current.case_legal(c),
    };
    let began = naming
        .consents
        .iter()
        .any(|c| in_window(c.given_at) && consent_in_force(c, now))
        || naming
            .exceptions
            .iter()
            .any(|e| e.confirmed_at.is_some_and(in_window) && exception_active(e, now))
        || naming
            .legal
            .iter()
            .any(|l| in_window(l.recorded_at) && legal_active(l, now));
    let scope = |categories: &serde_json::Value| {
        FieldClass::set_of(&enum_list_from_json(categories, DataCategory::parse))
    };

    let mut ended = Vec::new();
    for c in &naming.consents {
        let end = match (c.withdrawn_at, c.expires_at) {
            (Some(w), e) if e.is_none_or(|e| w < e) => Some((EndReason::Withdrawn, w)),
            (w, Some(e)) if w.is_none_or(|w| e <= w) => Some((EndReason::Expired, e)),
            _ => None,
        };
        let Some((reason, at)) = end.filter(|(_, at)| c.given_at < *at && in_window(*at)) else {
            continue;
        };
        let classes = scope(&c.categories);
        let readable = still(c.case_id);
        let legal_notes = match c.case_id {
            None => current.legal,
            Some(case) => current.case_legal(case),
        }
        .contains(FieldClass::CaseNotes);
        let mut labels = Vec::new();
        // (A legal authority releasing the notes overrides exclusions.)
        if classes.contains(FieldClass::CaseNotes)
            && readable.contains(FieldClass::CaseNotes)
            && !legal_notes
        {
            // Notes are still shared, but maybe not all of them: labels the
            // consents now in force exclude and this one did not.
            let before = SensitivityLabel::set_of(&enum_list_from_json(
                &c.excluded_labels,
                SensitivityLabel::parse,
            ));
            let now_excluded = current
                .note_consents
                .iter()
                .filter(|(case, _)| c.case_id.is_none() || case.is_none() || *case == c.case_id)
                .fold(LabelSet::empty(), |acc, (_, l)| acc | *l);
            labels = (now_excluded - before).iter().collect();
        }
        push_ended(
            &mut ended,
            reason,
            access::consent_basis(c.id),
            at,
            classes - readable,
            labels,
        );
    }
    for e in &naming.exceptions {
        let Some(confirmed) = e.confirmed_at else {
            continue;
        };
        let (reason, at) = match e.revoked_at {
            Some(r) if r < e.expires_at => (EndReason::Revoked, r),
            _ => (EndReason::Expired, e.expires_at),
        };
        if confirmed >= at || !in_window(at) {
            continue;
        }
        let classes = scope(&e.categories) - access::never_by_exception();
        push_ended(
            &mut ended,
            reason,
            access::exception_basis(e.id),
            at,
            classes - still(None),
            Vec::new(),
        );
    }
    for l in &naming.legal {
        let (reason, at) = match l.revoked_at {
            Some(r) if r < l.expires_at => (EndReason::Revoked, r),
            _ => (EndReason::Expired, l.expires_at),
        };
        if l.recorded_at >= at || !in_window(at) {
            continue;
        }
        push_ended(
            &mut ended,
            reason,
            access::legal_basis(l.id),
            at,
            scope(&l.categories) - still(l.case_id),
            Vec::new(),
        );
    }
    ended.sort_by_key(|e| e.at);
    (began, ended)
}

fn push_ended(
    out: &mut Vec<AccessEnded>,
    reason: EndReason,
    basis: String,
    at: DateTime<Utc>,
    lost: ClassSet,
    labels: Vec<SensitivityLabel>,
) {
    let categories = categories(lost);
    let reason = match (categories.is_empty(), labels.is_empty()) {
        (true, true) => return,
        (true, false) => EndReason::LabelExcluded,
        (false, _) => reason,
    };
    out.push(AccessEnded {
        reason,
        basis,
        at,
        categories,
        labels,
    });
}

impl Entry {
    /// Nothing to say: an ended basis whose access another one still gives.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && !self.access_began && self.ended.is_empty()
    }
}
