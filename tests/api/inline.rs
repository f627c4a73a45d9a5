//! Leaf fields resolved in line (`graphql::inline`) answer exactly as
//! async-graphql's own path: the same query, once with plain fields (resolved in
//! line) and once with each object's fields inside an inline fragment (which
//! takes async-graphql's path), must give the same data, the same errors at the
//! same paths and the same redactions, for callers who see everything, a
//! redacted view, a denied view and nothing.

use crate::helpers::{id, spawn_app, Gql};
use confide::domain::Role;
use serde_json::{json, Value};

/// Every type served in line, with related records and leaf fields mixed.
const PLAIN: &str = r#"query($case: ID!, $student: ID!) {
  supportCases(first: 20) { edges { cursor node {
    id service status openedAt closedAt summary adjustments riskLevel
    assignedTo { id name role service }
    student { id studentNumber name preferredName email phone termAddress homeAddress
      dateOfBirth department course emergencyContact gpPractice
      cases { id service status riskLevel } }
    notes(limit: 3) { id kind occurredAt body labels author { id name role service } }
    thirdPartyEntries { id source subject body thirdPartyConsented createdAt }
  } } }
  supportCase(id: $case) { id summary shared: summary risk: riskLevel student { id name } notes { id body } }
  student(id: $student) { id name email cases { id adjustments notes(limit: 1) { body } } }
  students(first: 10) { edges { cursor node { id name email department } } }
}"#;

/// [`PLAIN`] with each object's selection inside an inline fragment.
const FRAGMENTS: &str = r#"query($case: ID!, $student: ID!) {
  supportCases(first: 20) { edges { ... on SupportCaseEdge { cursor node { ... on SupportCase {
    id service status openedAt closedAt summary adjustments riskLevel
    assignedTo { ... on StaffMember { id name role service } }
    student { ... on Student { id studentNumber name preferredName email phone termAddress homeAddress
      dateOfBirth department course emergencyContact gpPractice
      cases { ... on SupportCase { id service status riskLevel } } } }
    notes(limit: 3) { ... on Note { id kind occurredAt body labels
      author { ... on StaffMember { id name role service } } } }
    thirdPartyEntries { ... on ThirdPartyEntry { id source subject body thirdPartyConsented createdAt } }
  } } } } }
  supportCase(id: $case) { ... on SupportCase { id summary shared: summary risk: riskLevel
    student { ... on Student { id name } } notes { ... on Note { id body } } } }
  student(id: $student) { ... on Student { id name email
    cases { ... on SupportCase { id adjustments notes(limit: 1) { ... on Note { body } } } } } }
  students(first: 10) { edges { ... on StudentEdge { cursor
    node { ... on Student { id name email department } } } } }
}"#;

/// The response with its errors and redactions in a stable order (each path
/// resolves concurrently, so they are recorded in completion order), less the
/// request's own ids and the errors' places in the query text.
fn normalised(res: &Gql) -> Value {
    let mut body = res.body.clone();
    if let Some(extensions) = body["extensions"].as_object_mut() {
        extensions.remove("requestId");
        extensions.remove("traceId");
    }
    let by_path = |v: &Value| {
        (
            serde_json::to_string(&v["path"]).unwrap_or_default(),
            serde_json::to_string(v).unwrap_or_default(),
        )
    };
    if let Some(errors) = body["errors"].as_array_mut() {
        for e in errors.iter_mut() {
            // Where in the query text: the two texts differ.
            e.as_object_mut().map(|e| e.remove("locations"));
        }
        errors.sort_by_key(by_path);
    }
    if let Some(redactions) = body["extensions"]["redactions"].as_array_mut() {
        redactions.sort_by_key(by_path);
    }
    body
}

#[tokio::test]
async fn fields_resolved_in_line_answer_exactly_as_async_graphqls_own_path() {
    let app = spawn_app().await;
    let vars = json!({
        "case": id(app.demo.alice_counselling_case),
        "student": id(app.demo.alice),
    });
    let callers = [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.mental_health_adviser, Role::Practitioner),
        (app.demo.counselling_lead, Role::ServiceLead),
        (app.demo.reception, Role::Reception),
        (app.demo.it_support, Role::ItSupport),
        (app.demo.history_department, Role::Department),
        (app.demo.alice, Role::Student),
    ];
    let mut answered = 0;
    for (who, role) in callers {
        let plain = app.as_caller(who, role, PLAIN, vars.clone()).await;
        let fragments = app.as_caller(who, role, FRAGMENTS, vars.clone()).await;
        assert_eq!(
            normalised(&plain),
            normalised(&fragments),
            "{role:?}: in line and async-graphql's path must agree"
        );
        if plain.data()["supportCases"]["edges"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
        {
            answered += 1;
        }
    }
    assert!(
        answered >= 3,
        "the comparison must cover callers who see cases"
    );
}

#[tokio::test]
async fn a_denied_field_resolved_in_line_is_null_with_forbidden_at_its_path() {
    let app = spawn_app().await;
    // Reception may list cases; a case's summary is denied to reception.
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            "{ supportCases(first: 5) { edges { node { id status summary } } } }",
            json!({}),
        )
        .await;
    let edges = res.data()["supportCases"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty(), "{:#}", res.body);
    for (i, edge) in edges.iter().enumerate() {
        assert!(edge["node"]["id"].is_string(), "the parent is never nulled");
        assert!(edge["node"]["summary"].is_null());
        assert_eq!(
            res.error_at(json!(["supportCases", "edges", i, "node", "summary"]))
                .as_deref(),
            Some("FORBIDDEN"),
            "{:#}",
            res.body
        );
    }
}

/// Keys as the GraphQL specification orders them: in the order selected, a
/// related record (loaded from the database, so still pending when the fields
/// beside it are ready) in its place, not after the fields that were ready
/// first. Read from the response's text, as a client that keeps key order
/// (JavaScript's `JSON.parse`) sees it.
#[tokio::test]
async fn a_response_lists_each_objects_fields_in_the_order_they_were_selected() {
    let app = spawn_app().await;
    let token = app.token(app.demo.counsellor, Role::Practitioner);
    let query = "{ supportCases(first: 3) { edges { node { \
        summary student { name } riskLevel notes(limit: 1) { body } assignedTo { name } status \
        } } } }";
    let text = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("Authorization", format!("Bearer {token}"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    let nodes: Vec<&str> = text.split("\"node\":").skip(1).collect();
    assert_eq!(nodes.len(), 3, "{text}");
    for node in nodes {
        let keys = [
            "\"summary\":",
            "\"student\":",
            "\"riskLevel\":",
            "\"notes\":",
            "\"assignedTo\":",
            "\"status\":",
        ];
        let at: Vec<usize> = keys
            .iter()
            .map(|k| {
                node.find(k)
                    .unwrap_or_else(|| panic!("{k} missing in {node}"))
            })
            .collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "keys out of selection order: {node}"
        );
    }
}
