//! Leaf fields resolved in line.
//!
//! async-graphql resolves every selected field of an object as a boxed future
//! in a `FuturesUnordered`, even a field whose resolver never waits: an
//! allocation, a task node and a poll through a waker for each of the ~1,500
//! fields of a dashboard page. [`Inline`] wraps a list-served object type and
//! resolves the fields its [`InlineFields::INLINE`] names (those that read the
//! record and its mask, and never wait) one after the other, and only the
//! others (loads of related records) as concurrent futures. The object
//! itself is one boxed future (it also breaks the recursion of a type's
//! future through its relations: `Student.cases`, `SupportCase.student`).
//!
//! Every field is still resolved by the type's own generated `resolve_field`,
//! so the guard is the same code whichever way a field is reached; the
//! wrapper changes when a field is polled, not what it returns (one
//! difference, in key order only: an object's keys are in selection order, as
//! the GraphQL specification orders a response, where async-graphql's own path
//! places each field as it completes, a load after the fields ready before
//! it). A field listed
//! wrongly as in line is still correct (it is awaited in turn, after the other
//! in-line fields and before any sibling load starts, so it cannot wait on a
//! sibling of its own object). Anything but plain fields (a fragment,
//! `__typename`, a custom directive, one response key twice) takes
//! async-graphql's own path, unchanged. Schema extensions' per-field `resolve`
//! hooks are not called for the fields of an `Inline` object (async-graphql
//! does not say whether any are installed): the only extension Confide
//! installs, `telemetry::RootFieldSpans`, spans root fields, and an `Inline`
//! object is never the root: an extension with per-field hooks must not be
//! added without making this path fall back. Fields are resolved
//! concurrently, as `#[Object]` does; a `#[Object(serial)]` type must not be
//! wrapped.

use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{resolve_container, ContainerType};
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ServerResult, Value};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// The fields of an object type that resolve without waiting on another field
/// of the same object.
pub trait InlineFields: ContainerType {
    /// GraphQL names (as in the schema) of the fields resolved in line: those
    /// whose resolvers never wait, and an edge's `node` (the edge's only field
    /// that waits, on its own loads; edges are still resolved concurrently).
    const INLINE: &'static [&'static str];
}

impl<T: InlineFields + ?Sized> InlineFields for &T {
    const INLINE: &'static [&'static str] = T::INLINE;
}

/// An object served with its [`InlineFields`] resolved in line. Its GraphQL
/// type is `T`'s, unchanged.
pub struct Inline<T>(pub T);

impl<T: InlineFields> OutputType for Inline<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let fut: Pin<Box<dyn Future<Output = ServerResult<Value>> + Send + '_>> =
            Box::pin(resolve_inline(ctx, &self.0));
        fut.await
    }
}

/// A field's load still pending: its index in the object's map and its result.
type FieldFuture<'a> = Pin<Box<dyn Future<Output = (usize, ServerResult<Value>)> + Send + 'a>>;

/// Whether every selection is a plain field this path resolves as
/// async-graphql would: no fragment, no `__typename`, no directive left after
/// `@skip`/`@include` were applied, no response key twice (async-graphql
/// merges those).
fn plain(ctx: &ContextSelectionSet<'_>) -> bool {
    let items = &ctx.item.node.items;
    items.iter().enumerate().all(|(i, s)| match &s.node {
        Selection::Field(f) => {
            let key = &f.node.response_key().node;
            f.node.directives.is_empty()
                && f.node.name.node != "__typename"
                && !items[..i].iter().any(|p| match &p.node {
                    Selection::Field(p) => p.node.response_key().node == *key,
                    _ => false,
                })
        }
        _ => false,
    })
}

async fn resolve_inline<'a, T: InlineFields>(
    ctx: &ContextSelectionSet<'a>,
    root: &'a T,
) -> ServerResult<Value> {
    if !plain(ctx) {
        return resolve_container(ctx, root).await;
    }
    let items = &ctx.item.node.items;
    let is_inline = |f: &Positioned<Field>| T::INLINE.contains(&f.node.name.node.as_str());

    // Every key in selection order (as the GraphQL specification orders a
    // response); the in-line fields resolved first, before any load of this
    // object starts, each load's key holding its place (null) until it
    // resolves. `plain` rules out fragments and repeated keys, so the n-th
    // selection is the n-th entry of the map.
    let mut results = async_graphql::indexmap::IndexMap::with_capacity(items.len());
    let mut resolved = false;
    for selection in items {
        let Selection::Field(field) = &selection.node else {
            continue;
        };
        let value = if is_inline(field) {
            match root.resolve_field(&ctx.with_field(field)).await {
                Ok(value) => {
                    resolved = true;
                    value.unwrap_or_default()
                }
                Err(e) => {
                    ctx.add_error(e);
                    Value::Null
                }
            }
        } else {
            Value::Null
        };
        results.insert(field.node.response_key().node.clone(), value);
    }

    // Then the loads: each polled once in selection order; one still pending
    // goes on concurrently with the others. Most objects have one load or
    // none, so the set of pending loads is made only for a second one.
    let mut place = |(index, result): (usize, ServerResult<Value>)| match result {
        Ok(value) => {
            resolved = true;
            if let Some((_, slot)) = results.get_index_mut(index) {
                *slot = value;
            }
        }
        Err(e) => ctx.add_error(e),
    };
    let mut first: Option<FieldFuture<'a>> = None;
    let mut more: Option<FuturesUnordered<FieldFuture<'a>>> = None;
    for (index, selection) in items.iter().enumerate() {
        let Selection::Field(field) = &selection.node else {
            continue;
        };
        if is_inline(field) {
            continue;
        }
        let mut fut: FieldFuture<'a> = Box::pin({
            let ctx = ctx.clone();
            async move {
                let ctx_field = ctx.with_field(field);
                let result = root.resolve_field(&ctx_field).await;
                (index, result.map(Option::unwrap_or_default))
            }
        });
        match futures_util::poll!(fut.as_mut()) {
            Poll::Ready(result) => place(result),
            Poll::Pending => match (&mut first, &mut more) {
                (None, _) => first = Some(fut),
                (Some(_), Some(set)) => set.push(fut),
                (Some(_), None) => {
                    let set = FuturesUnordered::new();
                    set.push(fut);
                    more = Some(set);
                }
            },
        }
    }
    match (first, more) {
        (Some(only), None) => place(only.await),
        (Some(first), Some(mut set)) => {
            set.push(first);
            while let Some(result) = set.next().await {
                place(result);
            }
        }
        (None, _) => {}
    }
    // An object none of whose fields resolved is null, as async-graphql
    // makes it (each field's error is reported at its path).
    Ok(if resolved {
        Value::Object(results)
    } else {
        Value::Null
    })
}

#[cfg(test)]
mod tests {
    use super::InlineFields;
    use crate::graphql::{note, partner_feed, staff, student, support_case};

    /// Each in-line list against its type's fields in the schema: a name
    /// misspelt there would silently never be resolved in line.
    #[tokio::test]
    async fn every_field_resolved_in_line_is_a_field_of_its_type() {
        let lists: [(&str, &[&str]); 9] = [
            ("SupportCase", support_case::CaseNode::INLINE),
            ("SupportCaseEdge", support_case::SupportCaseEdge::INLINE),
            ("Student", student::StudentNode::INLINE),
            ("StudentEdge", student::StudentEdge::INLINE),
            ("Note", note::NoteNode::INLINE),
            ("ThirdPartyEntry", note::ThirdPartyEntryNode::INLINE),
            ("StaffMember", staff::StaffMemberNode::INLINE),
            ("PartnerFeedEdge", partner_feed::PartnerFeedEdge::INLINE),
            ("PartnerFeedEntry", partner_feed::PartnerFeedEntry::INLINE),
        ];
        let schema = crate::graphql::schema();
        for (type_name, inline) in lists {
            let query = format!(r#"{{ __type(name: "{type_name}") {{ fields {{ name }} }} }}"#);
            let res = schema.execute(query.as_str()).await;
            assert!(res.errors.is_empty(), "{:?}", res.errors);
            let data = res.data.into_json().unwrap();
            let fields: Vec<&str> = data["__type"]["fields"]
                .as_array()
                .unwrap_or_else(|| panic!("{type_name} is not in the schema"))
                .iter()
                .filter_map(|f| f["name"].as_str())
                .collect();
            assert!(!inline.is_empty(), "{type_name}");
            for name in inline {
                assert!(
                    fields.contains(name),
                    "{type_name}.{name} is resolved in line but is not a field"
                );
            }
        }
    }
}
