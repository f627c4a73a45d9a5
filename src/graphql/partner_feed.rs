//! The partner feed: what changed for an outside audience since its last sync.

use super::pagination;
use super::request_context;
use super::student::StudentConnection;
use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};

#[derive(Default)]
pub struct PartnerFeedQuery;

#[Object]
impl PartnerFeedQuery {
    /// For departments, university services and partners: the students you may
    /// see for whom something you can read changed since `since` (a field of a
    /// category you may read, a visible case, a note you may see, or the consent or
    /// exception that opened them), in a stable order. Sync by passing the time of
    /// your previous sync.
    async fn partner_feed(
        &self,
        ctx: &Context<'_>,
        since: DateTime<Utc>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Option<StudentConnection>> {
        let rc = request_context(ctx)?;
        let page = pagination::page(first, after.as_deref(), rc.limits.max_page_size)?;
        let rows = rc.feed(since, page).await?;
        let total = if ctx.look_ahead().field("totalCount").exists() {
            rc.feed_count(since).await?
        } else {
            0
        };
        Ok(Some(StudentConnection::from_page(rows, total)))
    }
}
