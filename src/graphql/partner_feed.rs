//! The partner feed: what changed for an outside audience since its last sync,
//! and whose access ended.

use super::inline::{Inline, InlineFields};
use super::pagination::{id, PageInfo, DEFAULT_PAGE_SIZE};
use super::student::StudentNode;
use super::{request_context, reveal, shown};
use crate::domain::{DataCategory, SensitivityLabel};
use crate::error::AppError;
use crate::policy::{FieldClass, Guarded, Reason, Revealed};
use crate::service::partner_feed::{EndReason, Entry, Position, Window};
use async_graphql::{Context, Object, SimpleObject, ID};
use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

const PREFIX: &str = "confide:feed:v1:";

/// A feed cursor: the sync window and the key of the last entry read. It holds
/// instants and a student id the caller has already been given, nothing else.
#[derive(Debug, PartialEq, Eq)]
struct Cursor {
    window: Window,
    after: Position,
}

fn nanos(t: DateTime<Utc>) -> Result<i64, AppError> {
    t.timestamp_nanos_opt()
        .ok_or_else(|| AppError::bad_input("since", "is out of range"))
}

impl Cursor {
    fn encode(&self) -> Result<String, AppError> {
        let since = match self.window.since {
            Some(s) => nanos(s)?.to_string(),
            None => "-".to_owned(),
        };
        let text = format!(
            "{PREFIX}{since}:{}:{}:{}:{}",
            nanos(self.window.until)?,
            nanos(self.window.as_of)?,
            nanos(self.after.at)?,
            self.after.student_id
        );
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text))
    }

    fn decode(cursor: &str) -> Result<Cursor, AppError> {
        let bad = || AppError::bad_input("after", "is not a valid feed cursor");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let rest = text.strip_prefix(PREFIX).ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split(':').collect();
        let [since, until, as_of, at, student] = parts.as_slice() else {
            return Err(bad());
        };
        let instant = |s: &str| {
            s.parse::<i64>()
                .map(DateTime::from_timestamp_nanos)
                .map_err(|_| bad())
        };
        let since = match *since {
            "-" => None,
            s => Some(instant(s)?),
        };
        Ok(Cursor {
            window: Window {
                since,
                until: instant(until)?,
                as_of: instant(as_of)?,
            },
            after: Position {
                at: instant(at)?,
                student_id: Uuid::parse_str(student).map_err(|_| bad())?,
            },
        })
    }
}

/// A basis of your access that ended (or narrowed) in the window: delete what
/// you hold in these categories (and notes carrying these labels) for the student.
#[derive(SimpleObject)]
pub struct FeedAccessEnded {
    pub reason: EndReason,
    /// What ended: `consent:<id>`, `risk_exception:<id>` or `legal_authority:<id>`.
    pub basis: String,
    pub at: DateTime<Utc>,
    /// Categories you can no longer read for this student (empty when another
    /// consent or exception still gives them).
    pub categories: Vec<DataCategory>,
    /// Case notes carrying these labels are no longer shared with you.
    pub labels: Vec<SensitivityLabel>,
}

/// One student in the feed.
pub struct PartnerFeedEntry {
    entry: Guarded<Entry>,
    student: Option<StudentNode>,
}

/// One student in your feed: what changed that you can read, whether your
/// access began, and what of it ended. Entries are in `(changedAt, studentId)`
/// order. Every field but `student` is category FEED_ENTRIES.
#[Object]
impl PartnerFeedEntry {
    async fn student_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.entry, FieldClass::FeedEntries, |e| {
            Some(id(e.key.student_id))
        })
    }

    /// The latest change of this student in the window: the entry's position.
    async fn changed_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.entry, FieldClass::FeedEntries, |e| {
            Some(e.key.at)
        })
    }

    /// Categories you can read that changed in the window (re-read them).
    async fn changed(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&[DataCategory]>> {
        reveal(ctx, &self.entry, FieldClass::FeedEntries, |e| {
            Some(e.changed.as_slice())
        })
    }

    /// A consent or risk exception naming you began in the window: read the
    /// student in full.
    async fn access_began(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.entry, FieldClass::FeedEntries, |e| {
            Some(e.access_began)
        })
    }

    /// Bases of your access that ended in the window, and what you must delete.
    async fn access_ended(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<FeedAccessEnded>>> {
        reveal(ctx, &self.entry, FieldClass::FeedEntries, |e| {
            Some(
                e.ended
                    .iter()
                    .map(|e| FeedAccessEnded {
                        reason: e.reason,
                        basis: e.basis.clone(),
                        at: e.at,
                        categories: e.categories.clone(),
                        labels: e.labels.clone(),
                    })
                    .collect(),
            )
        })
    }

    /// The student as you may read them now (each field decided as anywhere
    /// else); `null`, redacted as ACCESS_ENDED, once you may see nothing of them.
    async fn student(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Inline<&StudentNode>>> {
        match &self.student {
            Some(student) => Ok(Some(Inline(student))),
            None => shown(ctx, Revealed::Redacted(Reason::AccessEnded)),
        }
    }
}

#[derive(SimpleObject)]
pub struct PartnerFeedEdge {
    pub cursor: String,
    pub node: Inline<PartnerFeedEntry>,
}

impl InlineFields for PartnerFeedEdge {
    const INLINE: &'static [&'static str] = &["cursor", "node"];
}

impl InlineFields for PartnerFeedEntry {
    const INLINE: &'static [&'static str] = &[
        "studentId",
        "changedAt",
        "changed",
        "accessBegan",
        "accessEnded",
    ];
}

/// A page of the partner feed.
#[derive(SimpleObject)]
pub struct PartnerFeedConnection {
    pub edges: Vec<Inline<PartnerFeedEdge>>,
    pub page_info: PageInfo,
    /// Students in this sync's window: at most what the pages hold (an entry
    /// left with nothing to say is left out of its page).
    pub total_count: u64,
    /// This sync covers changes up to this instant (a short settling time
    /// behind the server's clock, so that every write stamped before it has
    /// committed). Once `hasNextPage` is false, pass it as `since` for the next sync.
    pub synced_until: DateTime<Utc>,
}

#[derive(Default)]
pub struct PartnerFeedQuery;

#[Object]
impl PartnerFeedQuery {
    /// For departments, university services and partners: one entry per student
    /// for whom, since `since` (omit it for a first, full sync), something you
    /// can read changed, your access began, or your access ended. Page with
    /// `after` (the window stays the one of the first page); when `hasNextPage`
    /// is false, start the next sync with `since: syncedUntil`.
    async fn partner_feed(
        &self,
        ctx: &Context<'_>,
        since: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Option<PartnerFeedConnection>> {
        let rc = request_context(ctx)?;
        let max = rc.limits.max_page_size;
        let first = match first {
            None => DEFAULT_PAGE_SIZE.min(max),
            Some(n) if n < 1 => {
                return Err(AppError::bad_input("first", "must be at least 1").into())
            }
            Some(n) if n as u32 > max => {
                return Err(AppError::bad_input("first", format!("must be at most {max}")).into())
            }
            Some(n) => n as u32,
        };
        let (window, position) = match after.as_deref().map(Cursor::decode).transpose()? {
            Some(cursor) => {
                if since.is_some_and(|s| Some(s) != cursor.window.since) {
                    return Err(AppError::bad_input(
                        "since",
                        "differs from the sync the cursor belongs to (omit it when paging)",
                    )
                    .into());
                }
                let window = Window {
                    since: cursor.window.since,
                    until: cursor.window.until.min(rc.feed_until()),
                    as_of: cursor.window.as_of.min(rc.now()),
                };
                (window, Some(cursor.after))
            }
            None => (
                Window {
                    since,
                    until: rc.feed_until(),
                    as_of: rc.now(),
                },
                None,
            ),
        };
        let mut rows = rc.feed(window, position, u64::from(first) + 1).await?;
        let has_next_page = rows.len() > first as usize;
        rows.truncate(first as usize);
        let total_count = if ctx.look_ahead().field("totalCount").exists() {
            rc.feed_count(window).await?
        } else {
            0
        };
        let end_cursor = match rows.last() {
            Some(row) => Some(
                Cursor {
                    window,
                    after: row.position,
                }
                .encode()?,
            ),
            None => None,
        };
        let mut edges = Vec::with_capacity(rows.len());
        // An entry with nothing to say (an ended basis whose access another
        // still gives) is left out; the page still ends at its key.
        for row in rows.into_iter().filter(|r| !r.empty) {
            let cursor = Cursor {
                window,
                after: row.position,
            }
            .encode()?;
            edges.push(Inline(PartnerFeedEdge {
                cursor,
                node: Inline(PartnerFeedEntry {
                    entry: row.entry,
                    student: row.student.map(StudentNode::from),
                }),
            }));
        }
        let page_info = PageInfo {
            has_next_page,
            has_previous_page: position.is_some(),
            start_cursor: edges.first().map(|e| e.0.cursor.clone()),
            end_cursor,
        };
        Ok(Some(PartnerFeedConnection {
            edges,
            page_info,
            total_count,
            synced_until: window.until,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_cursor_round_trips_and_rejects_garbage() {
        let now = DateTime::from_timestamp_nanos(1_790_000_000_123_456_789);
        for since in [None, Some(now - chrono::Duration::hours(1))] {
            let cursor = Cursor {
                window: Window {
                    since,
                    until: now,
                    as_of: now,
                },
                after: Position {
                    at: now - chrono::Duration::minutes(5),
                    student_id: Uuid::new_v4(),
                },
            };
            let text = cursor.encode().expect("encode");
            assert_eq!(Cursor::decode(&text).expect("decode"), cursor);
        }
        for garbage in ["", "abc", "Y29uZmlkZTpmZWVkOnYxOg", "confide:v1:3"] {
            assert!(Cursor::decode(garbage).is_err(), "{garbage}");
        }
    }
}
