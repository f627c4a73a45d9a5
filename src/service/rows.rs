//! The rows a dashboard page reads most (a page of cases with their students,
//! the notes of those cases), decoded by their position in the SELECT list.
//!
//! sea-orm's derived models read each column by name: for a joined row that is
//! a `format!` of the prefixed name and a hashed lookup of it per column per
//! row (about 3,000 a dashboard page). The queries select every column of the
//! entity in its declared order (sea-orm's `find` and `select_also` do), so the
//! position is known; a test checks each list below against the entity's
//! columns, and another decodes the same rows both ways. Nothing checks the
//! production queries' select lists directly: a `column_as` or `select_only`
//! added to the case query would shift the student's columns, which the API
//! tests (every dashboard field compared with what was seeded) would catch.
//!
//! One behaviour differs from sea-orm's derived models: a joined student whose
//! columns fail to decode is an error, where sea-orm's default
//! `from_query_result_optional` made it "no student" and the case was
//! silently left out of the page.

use entity::{note, student, support_case};
use sea_orm::{DbErr, FromQueryResult, QueryResult, TryGetError};

/// Declares `$name`, which decodes `$model` from consecutive columns starting
/// at `$offset`, one per field in the order given (the entity's column order).
macro_rules! by_position {
    ($(#[$doc:meta])* $name:ident, $model:ident :: Model, $offset:expr, [$first:ident $(, $field:ident)* $(,)?]) => {
        $(#[$doc])*
        pub struct $name(pub $model::Model);

        impl $name {
            /// The fields, in the order their columns are read.
            #[cfg(test)]
            pub const FIELDS: &'static [&'static str] =
                &[stringify!($first) $(, stringify!($field))*];

            /// The rest of the columns, after the first (read by the caller,
            /// which decides what NULL there means).
            fn decode(res: &QueryResult, $first: uuid::Uuid) -> Result<Self, TryGetError> {
                let mut at = $offset;
                $(
                    at += 1;
                    let $field = res.try_get_by_index_nullable(at)?;
                )*
                Ok($name($model::Model { $first $(, $field)* }))
            }
        }

        impl FromQueryResult for $name {
            fn from_query_result(res: &QueryResult, _pre: &str) -> Result<Self, DbErr> {
                let first = res.try_get_by_index($offset)?;
                Self::decode(res, first).map_err(Into::into)
            }

            /// The right side of a left join: no row there when its first
            /// column (the primary key) is NULL; any other failure is an error,
            /// not a missing row.
            fn from_query_result_optional(res: &QueryResult, _pre: &str) -> Result<Option<Self>, DbErr> {
                match res.try_get_by_index_nullable($offset) {
                    Ok(first) => Self::decode(res, first).map(Some).map_err(Into::into),
                    Err(TryGetError::Null(_)) => Ok(None),
                    Err(TryGetError::DbErr(e)) => Err(e),
                }
            }
        }
    };
}

by_position!(
    /// A case, from the first columns of its row.
    CaseAt, support_case::Model, 0,
    [id, student_id, service, status, opened_at, closed_at, assigned_to, summary,
     adjustments, risk_level, created_at, updated_at]
);

by_position!(
    /// A student joined to a case: the columns after the case's.
    StudentAfterCase, student::Model, CASE_COLUMNS,
    [id, student_number, name, preferred_name, email, phone, term_address,
     home_address, date_of_birth, department, course, emergency_contact,
     gp_practice, processing_restricted, created_at, updated_at]
);

by_position!(
    /// A note, from a row of the note table alone.
    NoteAt, note::Model, 0,
    [id, case_id, kind, occurred_at, author_id, body, labels, created_at]
);

/// How many columns a case has (where its student's begin in a joined row).
const CASE_COLUMNS: usize = 12;

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{EntityTrait, IdenStatic, Iterable, QueryOrder};

    fn columns<E: EntityTrait>() -> Vec<String> {
        E::Column::iter().map(|c| c.as_str().to_owned()).collect()
    }

    #[test]
    fn positions_follow_each_entitys_column_order() {
        assert_eq!(CaseAt::FIELDS, columns::<support_case::Entity>());
        assert_eq!(CASE_COLUMNS, CaseAt::FIELDS.len());
        assert_eq!(StudentAfterCase::FIELDS, columns::<student::Entity>());
        assert_eq!(NoteAt::FIELDS, columns::<note::Entity>());
    }

    /// The same rows of a seeded database, read by name (sea-orm's derived
    /// models) and by position, are equal: every case with its student and
    /// every note.
    #[tokio::test]
    async fn rows_read_by_position_equal_rows_read_by_name() {
        let (_dir, db) = crate::seed::seeded(40, 2, 3).await;
        let by_name = support_case::Entity::find()
            .find_also_related(student::Entity)
            .order_by_asc(support_case::Column::Id)
            .all(&db)
            .await
            .unwrap();
        let by_position = support_case::Entity::find()
            .find_also_related(student::Entity)
            .order_by_asc(support_case::Column::Id)
            .into_model::<CaseAt, StudentAfterCase>()
            .all(&db)
            .await
            .unwrap();
        assert!(by_name.len() > 40, "seeded cases: {}", by_name.len());
        assert_eq!(by_name.len(), by_position.len());
        for ((c, s), (pc, ps)) in by_name.iter().zip(by_position) {
            assert_eq!(c, &pc.0);
            assert_eq!(s.as_ref(), ps.as_ref().map(|s| &s.0));
        }
        let notes = note::Entity::find()
            .order_by_asc(note::Column::Id)
            .all(&db)
            .await
            .unwrap();
        let notes_at = note::Entity::find()
            .order_by_asc(note::Column::Id)
            .into_model::<NoteAt>()
            .all(&db)
            .await
            .unwrap();
        assert!(notes.len() > 40, "seeded notes: {}", notes.len());
        assert_eq!(notes, notes_at.into_iter().map(|n| n.0).collect::<Vec<_>>());
    }
}
