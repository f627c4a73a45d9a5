//! The partner feed: what changed for an outside audience since its last sync.

use super::pagination::{self, PageInfo};
use super::request_context;
use super::student::{StudentConnection, StudentEdge};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};

/// A page of the partner feed.
#[derive(SimpleObject)]
pub struct PartnerFeedConnection {
    pub edges: Vec<StudentEdge>,
    pub page_info: PageInfo,
    /// Students in the feed (never counting one you may not see).
    pub total_count: u64,
    /// The feed covers changes up to this instant (a short settling time behind
    /// the server's clock, so that every write stamped before it has committed):
    /// pass it as `since` on your next sync and no change is missed.
    pub synced_until: DateTime<Utc>,
}

#[derive(Default)]
pub struct PartnerFeedQuery;

#[Object]
impl PartnerFeedQuery {
    /// For departments, university services and partners: the students you may
    /// see for whom something you can read changed since `since` (a field of a
    /// category you may read, a visible case, a note you may see, or the consent or
    /// exception that opened them), in a stable order. Sync by passing the
    /// previous page's `syncedUntil` as `since`.
    async fn partner_feed(
        &self,
        ctx: &Context<'_>,
        since: DateTime<Utc>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Option<PartnerFeedConnection>> {
        let rc = request_context(ctx)?;
        let page = pagination::page(first, after.as_deref(), rc.limits.max_page_size)?;
        let rows = rc.feed(since, page).await?;
        let total = if ctx.look_ahead().field("totalCount").exists() {
            rc.feed_count(since).await?
        } else {
            0
        };
        let page = StudentConnection::from_page(rows, total);
        Ok(Some(PartnerFeedConnection {
            edges: page.edges,
            page_info: page.page_info,
            total_count: page.total_count,
            synced_until: rc.now() - rc.limits.feed_settle,
        }))
    }
}
