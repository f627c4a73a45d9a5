//! Relay for front-end teams (issue 12, item 8): `node(id:)` and `nodes(ids:)`
//! answer exactly as the types' own root queries, for every role and every
//! field (reached through the `Node` interface), and a record the caller
//! cannot see answers like a missing one.

use crate::fixtures::{history_department_consent, record_consent};
use crate::helpers::{id, spawn_app, Gql, TestApp};
use crate::walk::{introspect, selection};
use confide::domain::Role;
use serde_json::{json, Value};

/// The decisions of a response (FORBIDDEN errors and redactions), with the
/// root field renamed, sorted: comparable between the two paths.
fn decisions(res: &Gql, root: &str) -> Vec<String> {
    let rename = |path: &Value| {
        let mut p = path.as_array().cloned().unwrap_or_default();
        if let Some(first) = p.first_mut() {
            if first == root {
                *first = json!("ROOT");
            }
        }
        Value::Array(p).to_string()
    };
    let mut out: Vec<String> = res
        .errors()
        .iter()
        .map(|e| {
            format!(
                "error {} {} {}",
                rename(&e["path"]),
                e["extensions"]["code"],
                e["extensions"]["reason"]
            )
        })
        .chain(
            res.body["extensions"]["redactions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| format!("redaction {} {}", rename(&r["path"]), r["reason"])),
        )
        .collect();
    out.sort();
    out
}

/// Every field of `ty`, directly and through `node`, as `who`: the same data,
/// the same errors and redactions.
async fn same_both_ways(
    app: &TestApp,
    sel: &str,
    root: &str,
    record: uuid::Uuid,
    who: (&str, uuid::Uuid, Role),
) {
    let ty = if root == "student" {
        "Student"
    } else {
        "SupportCase"
    };
    let direct = app
        .as_caller(
            who.1,
            who.2,
            &format!("{{ {root}(id: {}) {sel} }}", json!(id(record))),
            json!({}),
        )
        .await;
    let node = app
        .as_caller(
            who.1,
            who.2,
            &format!(
                "{{ node(id: {}) {{ ... on {ty} {sel} }} }}",
                json!(id(record))
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        direct.data()[root],
        node.data()["node"],
        "{} ({root} {record}): data differs between {root}(id:) and node(id:)",
        who.0
    );
    assert_eq!(
        decisions(&direct, root),
        decisions(&node, "node"),
        "{} ({root} {record}): decisions differ",
        who.0
    );
    if !direct.data()[root].is_null() {
        assert_eq!(node.data()["node"]["__typename"], ty);
    }
}

#[tokio::test]
async fn node_answers_as_the_direct_query_for_every_role_and_every_field() {
    let app = spawn_app().await;
    // Some sharing in force, so outside audiences see something too.
    record_consent(
        &app,
        (app.demo.reception, Role::Reception),
        history_department_consent(&app),
    )
    .await;
    let schema = introspect().await;
    let student_sel = selection(&schema, "Student", &mut vec!["Student".to_owned()]);
    let case_sel = selection(&schema, "SupportCase", &mut vec!["SupportCase".to_owned()]);
    let d = app.demo.clone();
    for who in d.callers() {
        for student in [d.alice, d.bob, d.carol] {
            same_both_ways(&app, &student_sel, "student", student, who).await;
        }
        for case in [
            d.alice_counselling_case,
            d.alice_mental_health_case,
            d.bob_disability_case,
            d.carol_counselling_case,
        ] {
            same_both_ways(&app, &case_sel, "supportCase", case, who).await;
        }
    }
}

#[tokio::test]
async fn a_node_the_caller_cannot_see_answers_like_a_missing_one() {
    let app = spawn_app().await;
    let missing = uuid::Uuid::now_v7();
    let query = "query($id: ID!) { node(id: $id) { id ... on Student { name } } }";
    // The history department has no consent yet: Alice is not visible to it.
    let dept = (app.demo.history_department, Role::Department);
    let hidden = app
        .as_caller(dept.0, dept.1, query, json!({ "id": id(app.demo.alice) }))
        .await;
    let absent = app
        .as_caller(dept.0, dept.1, query, json!({ "id": id(missing) }))
        .await;
    assert_eq!(hidden.body["data"], json!({ "node": null }));
    assert_eq!(hidden.body["data"], absent.body["data"]);
    assert_eq!(hidden.errors(), absent.errors());
    assert_eq!(
        hidden.body["extensions"].get("redactions"),
        absent.body["extensions"].get("redactions")
    );
    // The same for a case outside a practitioner's reach, and a malformed id.
    let counsellor = (app.demo.disability_adviser, Role::Practitioner);
    let q = "query($id: ID!) { node(id: $id) { id } }";
    let hidden_case = app
        .as_caller(
            counsellor.0,
            counsellor.1,
            q,
            json!({ "id": id(app.demo.alice_mental_health_case) }),
        )
        .await;
    let direct_case = app
        .as_caller(
            counsellor.0,
            counsellor.1,
            "query($id: ID!) { supportCase(id: $id) { id } }",
            json!({ "id": id(app.demo.alice_mental_health_case) }),
        )
        .await;
    let absent_case = app
        .as_caller(counsellor.0, counsellor.1, q, json!({ "id": id(missing) }))
        .await;
    let garbage = app
        .as_caller(counsellor.0, counsellor.1, q, json!({ "id": "not-an-id" }))
        .await;
    assert_eq!(
        direct_case.data()["supportCase"].is_null(),
        hidden_case.data()["node"].is_null(),
        "node agrees with supportCase"
    );
    if hidden_case.data()["node"].is_null() {
        assert_eq!(hidden_case.body["data"], absent_case.body["data"]);
        assert_eq!(hidden_case.errors(), absent_case.errors());
    }
    assert_eq!(garbage.body["data"], absent_case.body["data"]);

    // `nodes`: in order, null where missing or hidden, like `node` one by one.
    let many = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": [id(app.demo.alice), id(missing), id(app.demo.alice_counselling_case)] }),
        )
        .await;
    many.assert_no_errors();
    let nodes = many.data()["nodes"].as_array().unwrap();
    assert_eq!(
        nodes[0],
        json!({ "__typename": "Student", "id": id(app.demo.alice) })
    );
    assert!(nodes[1].is_null());
    assert_eq!(
        nodes[2],
        json!({ "__typename": "SupportCase", "id": id(app.demo.alice_counselling_case) })
    );
    // Too many ids: a typed refusal, nothing looked up.
    let ids: Vec<String> = (0..21).map(|_| id(uuid::Uuid::now_v7())).collect();
    let refused = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(
        refused.codes(),
        vec!["BAD_USER_INPUT"],
        "{:#}",
        refused.body
    );
}

/// The typed client example (clients/rust, generated from schema.graphql by
/// graphql_client) sends its operations to a real server and decodes the
/// answers into its generated types.
#[tokio::test]
async fn the_typed_client_example_decodes_real_answers() {
    use confide_client::{dashboard, refetch, Response};
    let app = spawn_app().await;
    let token = app.token(app.demo.counsellor, Role::Practitioner);
    let send = |body: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            app.client
                .post(format!("{}/graphql", app.address))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let body = send(serde_json::to_value(confide_client::dashboard_request(10)).unwrap()).await;
    let decoded: Response<dashboard::ResponseData> = serde_json::from_value(body.clone()).unwrap();
    let data = decoded.data.expect("dashboard data");
    let me = data.me.expect("me");
    assert_eq!(me.id, id(app.demo.counsellor));
    let cases = data.support_cases.expect("cases");
    assert!(cases.total_count > 0, "{body:#}");
    let edges = cases.edges;
    let counselling = edges
        .iter()
        .find(|e| e.node.id == id(app.demo.alice_counselling_case))
        .expect("the counsellor's case");
    assert_eq!(counselling.node.service.as_deref(), Some("counselling"));
    // A case of another service: its guarded fields decode as None (redacted).
    assert!(edges.iter().any(|e| e.node.notes.is_none()), "{body:#}");

    let body = send(
        serde_json::to_value(confide_client::refetch_request(&id(app
            .demo
            .alice_counselling_case)))
        .unwrap(),
    )
    .await;
    let decoded: Response<refetch::ResponseData> = serde_json::from_value(body.clone()).unwrap();
    let node = decoded.data.and_then(|d| d.node).expect("node");
    assert_eq!(node.id, id(app.demo.alice_counselling_case));
    match node.on {
        refetch::RefetchNodeOn::SupportCase(case) => {
            assert_eq!(case.service.as_deref(), Some("counselling"))
        }
        other => panic!("expected a SupportCase: {other:?}"),
    }
}
