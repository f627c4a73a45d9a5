//! The Rust and SQL forms of "consent in force" and "exception active" give the
//! same answer at the edge instants: given at now, expiring at now, withdrawn or
//! revoked at now, confirmed at now, one microsecond either side.

use crate::helpers::spawn_app;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use confide::policy::access::{consent_in_force, exception_active};
use confide::policy::facts::{consent_in_force_sql, exception_active_sql};
use entity::{consent, risk_exception};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use std::collections::BTreeSet;
use uuid::Uuid;

fn consent_row(
    student: Uuid,
    given: DateTime<Utc>,
    expires: Option<DateTime<Utc>>,
    withdrawn: Option<DateTime<Utc>>,
) -> consent::ActiveModel {
    consent::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student),
        recipient_kind: Set("gp".into()),
        recipient_ref: Set(None),
        categories: Set(serde_json::json!(["IDENTITY"])),
        excluded_labels: Set(serde_json::json!([])),
        case_id: Set(None),
        purpose: Set("Edge.".into()),
        given_at: Set(given),
        expires_at: Set(expires),
        form_reference: Set(None),
        recorded_by: Set(student),
        recorded_by_role: Set("student".into()),
        withdrawn_at: Set(withdrawn),
        withdrawn_by: Set(None),
        withdrawal_reason: Set(None),
        created_at: Set(given),
    }
}

fn exception_row(
    student: Uuid,
    staff: Uuid,
    confirmed: Option<DateTime<Utc>>,
    expires: DateTime<Utc>,
    revoked: Option<DateTime<Utc>>,
) -> risk_exception::ActiveModel {
    risk_exception::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student),
        ground: Set("safeguarding".into()),
        student_position: Set("refused".into()),
        recipients: Set(serde_json::json!([])),
        categories: Set(serde_json::json!(["IDENTITY"])),
        justification: Set("Edge.".into()),
        proposed_by: Set(staff),
        proposed_at: Set(expires - Duration::days(2)),
        confirmed_by: Set(confirmed.map(|_| staff)),
        confirmed_at: Set(confirmed),
        expires_at: Set(expires),
        revoked_at: Set(revoked),
        revoked_by: Set(None),
        student_informed_at: Set(None),
        not_informed_reason: Set(None),
        concern_notice: Set(None),
        created_at: Set(expires - Duration::days(2)),
    }
}

#[tokio::test]
async fn rust_and_sql_agree_on_consent_in_force_and_exception_active_at_the_edges() {
    let app = spawn_app().await;
    let student = app.demo.alice;
    let now = Utc::now().trunc_subsecs(6);
    let us = Duration::microseconds(1);
    let hour = Duration::hours(1);
    let edges = [now - us, now, now + us];
    for at in edges {
        for (given, expires, withdrawn) in [
            (at, None, None),
            (now - hour, Some(at), None),
            (now - hour, None, Some(at)),
            (now - hour, Some(at), Some(at)),
        ] {
            consent_row(student, given, expires, withdrawn)
                .insert(&app.db)
                .await
                .unwrap();
        }
        for (confirmed, expires, revoked) in [
            (Some(at), now + hour, None),
            (Some(now - hour), at, None),
            (Some(now - hour), now + hour, Some(at)),
            (None, now + hour, None),
        ] {
            exception_row(student, app.demo.counsellor, confirmed, expires, revoked)
                .insert(&app.db)
                .await
                .unwrap();
        }
    }
    let consents = consent::Entity::find()
        .filter(consent::Column::StudentId.eq(student))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(consents.len(), 12);
    let rust: BTreeSet<Uuid> = consents
        .iter()
        .filter(|c| consent_in_force(c, now))
        .map(|c| c.id)
        .collect();
    let sql: BTreeSet<Uuid> = consent::Entity::find()
        .filter(consent::Column::StudentId.eq(student))
        .filter(consent_in_force_sql(now))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(rust, sql, "consent in force at {now}");
    // given at now is in force; expiring or withdrawn at now is not.
    assert_eq!(
        rust.len(),
        2 + 3,
        "given at now-1µs and now; expiring/withdrawn at now+1µs"
    );

    let exceptions = risk_exception::Entity::find()
        .filter(risk_exception::Column::StudentId.eq(student))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(exceptions.len(), 12);
    let rust: BTreeSet<Uuid> = exceptions
        .iter()
        .filter(|e| exception_active(e, now))
        .map(|e| e.id)
        .collect();
    let sql: BTreeSet<Uuid> = risk_exception::Entity::find()
        .filter(risk_exception::Column::StudentId.eq(student))
        .filter(exception_active_sql(now))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(rust, sql, "exception active at {now}");
    assert_eq!(
        rust.len(),
        2 + 1 + 1,
        "confirmed at now-1µs and now; expiring/revoked at now+1µs"
    );
}
