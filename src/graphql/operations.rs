//! Registered (persisted) operations (issue 12, item 3): the documents outside
//! audiences may run, and what each can return. The field classes of a
//! document are found by walking it against the schema: each selected field
//! is in the class its resolver decides it by (the table below, checked
//! against the schema by a unit test), and a type whose fields are "in the
//! category of the field that reached it" (a staff member named by a note, a
//! recipient of a consent) takes the class of that field.

use super::pagination::id;
use super::{request_context, reveal};
use crate::error::{AppError, AppResult};
use crate::policy::{Action, ClassSet, FieldClass, Guarded};
use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
    TypeKind, TypeSystemDefinition,
};
use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};
use entity::registered_operation;
use std::collections::{HashMap, HashSet};

/// Fields that carry no protected value of their own: identifiers and the
/// structure of a page (as the deny-all walk's allowlist).
const STRUCTURAL: &[&str] = &[
    "id",
    "__typename",
    "edges",
    "node",
    "cursor",
    "pageInfo",
    "hasNextPage",
    "hasPreviousPage",
    "startCursor",
    "endCursor",
    "totalCount",
];

/// The class every field of a type is decided by (apart from [`field_class`]'s
/// exceptions). A type not named here takes the class of the field that reached it.
fn type_class(ty: &str) -> Option<FieldClass> {
    use FieldClass as C;
    Some(match ty {
        "AccessLogEntry" | "Disclosure" => C::Disclosures,
        "AuditEvent" | "LawfulBasis" => C::AuditTrail,
        "CaseStatistic" | "StatisticFigure" | "StatisticsTable" => C::Statistics,
        "ConcernNotice" => C::ConcernNotice,
        "Consent" => C::Consents,
        "Department" | "PartnerOrganisation" | "StaffAccount" | "UniversityService" => C::Directory,
        "EmergencyAccess" | "EmergencyDisclosure" => C::EmergencyDisclosures,
        "Enrolment" => C::Academic,
        "ErasureRequest" => C::ErasureRequests,
        "LegalAuthority" => C::LegalAuthorities,
        "LegalHold" | "RetentionDue" => C::Retention,
        "Me" => C::Caller,
        "Monitoring"
        | "MonitoringCount"
        | "PractitionerCaseload"
        | "ServiceMonitoring"
        | "WaitingTime" => C::Monitoring,
        "Note" => C::CaseNotes,
        "PartnerFeedEntry" => C::FeedEntries,
        "RegisteredOperation" => C::Operations,
        "ResearchExtract" | "ResearchExtractRow" => C::ResearchExtract,
        "Restriction" => C::Restrictions,
        "RiskException" => C::RiskExceptions,
        "SeriousHarmReview" | "SubjectAccessExport" | "SubjectAccessRequest" => C::SubjectAccess,
        "StudentChange" => C::ChangeHistory,
        "SupportCase" => C::SupportSummary,
        "ThirdPartyEntry" => C::ThirdParty,
        _ => return None,
    })
}

/// The fields of a type decided by another class than the type's own.
fn field_class(ty: &str, field: &str) -> Option<FieldClass> {
    use FieldClass as C;
    Some(match (ty, field) {
        ("Student", "studentNumber" | "name" | "preferredName") => C::Identity,
        ("Student", "email" | "phone" | "termAddress" | "homeAddress") => C::Contact,
        ("Student", "dateOfBirth") => C::Demographic,
        ("Student", "department" | "course" | "enrolments") => C::Academic,
        ("Student", "emergencyContact" | "gpPractice") => C::TrustedContacts,
        ("Student", "consents") => C::Consents,
        ("Student", "riskExceptions") => C::RiskExceptions,
        ("Student", "emergencyDisclosures") => C::EmergencyDisclosures,
        ("Student", "legalAuthorities") => C::LegalAuthorities,
        ("Student", "restrictions") => C::Restrictions,
        ("Student", "changeHistory") => C::ChangeHistory,
        ("Student", "concernNotices") => C::ConcernNotice,
        ("Student", "cases") => C::SupportSummary,
        ("SupportCase", "summary") => C::SummaryText,
        ("SupportCase", "adjustments") => C::Adjustments,
        ("SupportCase", "riskLevel") => C::Risk,
        ("SupportCase", "notes") => C::CaseNotes,
        ("SupportCase", "thirdPartyEntries") => C::ThirdParty,
        _ => return None,
    })
}

/// The schema as a map: type -> field -> the named type it returns; and
/// interface/union -> the object types it may be.
struct SchemaMap {
    fields: HashMap<String, HashMap<String, String>>,
    roots: (String, String),
}

fn named(ty: &async_graphql::parser::types::Type) -> String {
    match &ty.base {
        BaseType::Named(name) => name.to_string(),
        BaseType::List(inner) => named(inner),
    }
}

impl SchemaMap {
    fn of(sdl: &str) -> AppResult<Self> {
        let doc = async_graphql::parser::parse_schema(sdl)
            .map_err(|e| AppError::internal("schema sdl", e))?;
        let mut fields = HashMap::new();
        for def in doc.definitions {
            if let TypeSystemDefinition::Type(t) = def {
                let t = t.node;
                let list = match t.kind {
                    TypeKind::Object(o) => o.fields,
                    TypeKind::Interface(i) => i.fields,
                    _ => continue,
                };
                let map: HashMap<String, String> = list
                    .into_iter()
                    .map(|f| (f.node.name.node.to_string(), named(&f.node.ty.node)))
                    .collect();
                fields.insert(t.name.node.to_string(), map);
            }
        }
        Ok(SchemaMap {
            fields,
            roots: ("QueryRoot".to_owned(), "MutationRoot".to_owned()),
        })
    }
}

struct Walk<'d> {
    schema: &'d SchemaMap,
    doc: &'d ExecutableDocument,
    classes: ClassSet,
    /// Fragments being expanded (a cycle is an invalid document).
    expanding: HashSet<String>,
}

impl Walk<'_> {
    fn selection_set(
        &mut self,
        ty: &str,
        set: &SelectionSet,
        inherited: Option<FieldClass>,
        depth: usize,
    ) -> AppResult<()> {
        if depth > super::MAX_DEPTH + 4 {
            return Err(AppError::bad_input("document", "nested too deeply"));
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    if name == "__typename" {
                        continue;
                    }
                    if name.starts_with("__") {
                        return Err(AppError::bad_input(
                            "document",
                            "a registered operation may not introspect the schema",
                        ));
                    }
                    let Some(child) = self.schema.fields.get(ty).and_then(|m| m.get(name)) else {
                        return Err(AppError::bad_input(
                            "document",
                            format!("{ty} has no field {name}"),
                        ));
                    };
                    let root = ty == self.schema.roots.0 || ty == self.schema.roots.1;
                    let class = if root {
                        None
                    } else {
                        field_class(ty, name).or(type_class(ty)).or(inherited)
                    };
                    if !STRUCTURAL.contains(&name) {
                        if let Some(c) = class {
                            self.classes |= c;
                        }
                    }
                    let child = child.clone();
                    self.selection_set(&child, &f.node.selection_set.node, class, depth + 1)?;
                }
                Selection::InlineFragment(inline) => {
                    let on = match &inline.node.type_condition {
                        Some(c) => c.node.on.node.to_string(),
                        None => ty.to_owned(),
                    };
                    if !self.schema.fields.contains_key(&on) {
                        return Err(AppError::bad_input("document", format!("no type {on}")));
                    }
                    self.selection_set(&on, &inline.node.selection_set.node, inherited, depth)?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.to_string();
                    let Some(fragment) = self
                        .doc
                        .fragments
                        .get(spread.node.fragment_name.node.as_str())
                    else {
                        return Err(AppError::bad_input(
                            "document",
                            format!("no fragment {name}"),
                        ));
                    };
                    if !self.expanding.insert(name.clone()) {
                        return Err(AppError::bad_input(
                            "document",
                            format!("fragment {name} spreads itself"),
                        ));
                    }
                    let on = fragment.node.type_condition.node.on.node.to_string();
                    if !self.schema.fields.contains_key(&on) {
                        return Err(AppError::bad_input("document", format!("no type {on}")));
                    }
                    self.selection_set(&on, &fragment.node.selection_set.node, inherited, depth)?;
                    self.expanding.remove(&name);
                }
            }
        }
        Ok(())
    }
}

/// A document checked for registration: its one operation's name, and the
/// field classes it can return. An unparseable document, one with more or
/// fewer than one operation, a subscription, an unknown field, type or
/// fragment, or introspection: `BAD_USER_INPUT`.
pub struct Analysed {
    pub name: Option<String>,
    pub classes: ClassSet,
}

pub fn analyse(document: &str) -> AppResult<Analysed> {
    let doc = async_graphql::parser::parse_query(document)
        .map_err(|e| AppError::bad_input("document", format!("not a GraphQL document: {e}")))?;
    let (name, operation) = match &doc.operations {
        DocumentOperations::Single(op) => (None, op),
        DocumentOperations::Multiple(ops) if ops.len() == 1 => match ops.iter().next() {
            Some((name, op)) => (Some(name.to_string()), op),
            None => return Err(AppError::bad_input("document", "no operation")),
        },
        DocumentOperations::Multiple(_) => {
            return Err(AppError::bad_input(
                "document",
                "a registered document holds exactly one operation",
            ))
        }
    };
    static SCHEMA: std::sync::OnceLock<Result<SchemaMap, String>> = std::sync::OnceLock::new();
    let schema = SCHEMA
        .get_or_init(|| SchemaMap::of(&super::schema().sdl()).map_err(|e| format!("{e:?}")))
        .as_ref()
        .map_err(|e| AppError::internal("schema sdl", e))?;
    let root = match operation.node.ty {
        OperationType::Query => schema.roots.0.clone(),
        OperationType::Mutation => schema.roots.1.clone(),
        OperationType::Subscription => {
            return Err(AppError::bad_input("document", "no subscriptions"))
        }
    };
    let mut walk = Walk {
        schema,
        doc: &doc,
        classes: ClassSet::empty(),
        expanding: HashSet::new(),
    };
    walk.selection_set(&root, &operation.node.selection_set.node, None, 0)?;
    Ok(Analysed {
        name,
        classes: walk.classes,
    })
}

/// The field classes stored with an operation (comma-separated codes).
pub fn classes_of(stored: &str) -> Vec<FieldClass> {
    stored
        .split(',')
        .filter_map(|c| FieldClass::parse(c.trim()))
        .collect()
}

pub struct RegisteredOperationNode {
    record: Guarded<registered_operation::Model>,
}

/// A registered (persisted) operation: a document departments, university
/// services and partners may run, by its SHA-256. Every field but the id is
/// category OPERATIONS (the DPO).
#[Object(name = "RegisteredOperation")]
impl RegisteredOperationNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category OPERATIONS. The SHA-256 of the document's text (hex): what a
    /// client sends as `extensions.persistedQuery.sha256Hash`.
    async fn sha256_hash(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Operations, |m| {
            Some(m.sha256.as_str())
        })
    }
    /// Category OPERATIONS. The operation's name, if it has one.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Operations, |m| {
            m.name.as_deref()
        })
    }
    /// Category OPERATIONS. The document.
    async fn document(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Operations, |m| {
            Some(m.document.as_str())
        })
    }
    /// Category OPERATIONS. The field classes the operation can return
    /// (computed from the document at registration).
    async fn field_classes(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<String>>> {
        reveal(ctx, &self.record, FieldClass::Operations, |m| {
            Some(
                classes_of(&m.field_classes)
                    .into_iter()
                    .map(|c| c.as_str().to_owned())
                    .collect(),
            )
        })
    }
    /// Category OPERATIONS. The data categories of the privacy model the
    /// operation can return (the field classes that belong to one).
    async fn data_categories(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<String>>> {
        reveal(ctx, &self.record, FieldClass::Operations, |m| {
            let mut categories: Vec<String> = classes_of(&m.field_classes)
                .into_iter()
                .filter_map(|c| c.category())
                .map(|c| c.as_str().to_owned())
                .collect();
            categories.sort();
            categories.dedup();
            Some(categories)
        })
    }
    /// Category OPERATIONS. Who registered it (`cli:` and the operator's user).
    async fn registered_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Operations, |m| {
            Some(m.registered_by.as_str())
        })
    }
    /// Category OPERATIONS.
    async fn registered_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::Operations, |m| {
            Some(m.registered_at)
        })
    }
}

#[derive(Default)]
pub struct OperationsQuery;

#[Object]
impl OperationsQuery {
    /// The registered operations (the DPO), newest first: the only documents
    /// departments, university services and partners may run, each with the
    /// data categories it can return. Registered with `confide operations add`.
    async fn registered_operations(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<RegisteredOperationNode>>> {
        let rc = request_context(ctx)?;
        rc.route(Action::ListOperations)?;
        Ok(Some(
            rc.registered_operations()
                .await?
                .into_iter()
                .map(|record| RegisteredOperationNode { record })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_table_entry_names_a_real_type_and_field() {
        let schema = SchemaMap::of(&crate::graphql::schema().sdl()).unwrap();
        for ty in schema.fields.keys() {
            for field in schema.fields[ty].keys() {
                if let Some(_c) = field_class(ty, field) {
                    assert!(schema.fields[ty].contains_key(field));
                }
            }
        }
        for (ty, fields) in [
            (
                "Student",
                vec!["name", "email", "dateOfBirth", "cases", "gpPractice"],
            ),
            (
                "SupportCase",
                vec!["summary", "adjustments", "riskLevel", "notes"],
            ),
        ] {
            for f in fields {
                assert!(schema.fields[ty].contains_key(f), "{ty}.{f}");
            }
        }
        for ty in [
            "AccessLogEntry",
            "AuditEvent",
            "Consent",
            "Note",
            "PartnerFeedEntry",
            "RegisteredOperation",
            "Restriction",
            "RiskException",
            "SupportCase",
        ] {
            assert!(schema.fields.contains_key(ty), "{ty}");
            assert!(type_class(ty).is_some(), "{ty}");
        }
    }

    #[test]
    fn the_classes_of_a_document_follow_its_fields() {
        let a = analyse(
            "query Feed { partnerFeed(first: 10) { edges { node { studentId student { name email cases { status notes { author { name } } } } } } } }",
        )
        .unwrap();
        assert_eq!(a.name.as_deref(), Some("Feed"));
        let expected = FieldClass::FeedEntries
            | FieldClass::Identity
            | FieldClass::Contact
            | FieldClass::SupportSummary
            | FieldClass::CaseNotes;
        assert_eq!(a.classes, expected);
        // Fragments count as their fields.
        let b = analyse("{ student(id: \"x\") { ...S } } fragment S on Student { dateOfBirth id }")
            .unwrap();
        assert_eq!(b.classes, ClassSet::from(FieldClass::Demographic));
    }

    #[test]
    fn invalid_documents_are_bad_input() {
        for doc in [
            "{ student(id: \"x\") { nope } }",
            "{ nope }",
            "query A { me { id } } query B { me { id } }",
            "{ __schema { types { name } } }",
            "not graphql",
            "{ student(id: \"x\") { ...F } } fragment F on Student { ...F }",
        ] {
            match analyse(doc) {
                Err(AppError::BadUserInput { .. }) => {}
                Err(e) => panic!("{doc}: {e:?}"),
                Ok(_) => panic!("{doc}: accepted"),
            }
        }
    }
}
