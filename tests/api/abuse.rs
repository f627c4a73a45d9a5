//! Requests built to take the server down are refused before they run, with
//! `QUERY_TOO_COSTLY` and the computed cost and limit (checked by the cost
//! computed, never by wall-clock); bodies over the limit get a GraphQL-shaped 413.

use crate::helpers::{spawn_app, Gql, TestApp};
use confide::domain::Role;
use serde_json::json;

async fn as_student(app: &TestApp, query: &str) -> Gql {
    app.as_caller(app.demo.alice, Role::Student, query, json!({}))
        .await
}

/// `n` aliased note searches in one request, as a practitioner.
async fn note_searches(app: &TestApp, n: usize) -> Gql {
    let searches: String = (0..n)
        .map(|i| {
            format!("s{i}: supportCases(filter: {{ noteContains: \"x{i}\" }}) {{ totalCount }} ")
        })
        .collect();
    app.as_caller(
        app.demo.counsellor,
        Role::Practitioner,
        &format!("{{ {searches} }}"),
        json!({}),
    )
    .await
}

fn refused(res: &Gql, what: &str) {
    assert_eq!(res.codes(), vec!["QUERY_TOO_COSTLY"], "{:#}", res.body);
    let ext = &res.errors()[0]["extensions"];
    assert_eq!(ext["what"], what, "{:#}", res.body);
    assert!(ext["cost"].as_u64().unwrap() > ext["limit"].as_u64().unwrap());
    assert!(res.data().is_null());
}

#[tokio::test]
async fn a_fragment_spread_bomb_from_a_student_is_refused_by_its_cost() {
    let app = spawn_app().await;
    // About 1 KB; expanded, 2^24 selections of `id`.
    let mut query = String::from("query { me { ...F24 } }\nfragment F0 on Me { id }\n");
    for i in 1..=24 {
        query.push_str(&format!(
            "fragment F{i} on Me {{ ...F{p} ...F{p} }}\n",
            p = i - 1
        ));
    }
    assert!(query.len() < 1500);
    refused(&as_student(&app, &query).await, "cost");
    // The server still answers.
    as_student(&app, "{ me { id } }").await.assert_no_errors();
}

#[tokio::test]
async fn nested_lists_that_multiply_are_refused() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            "{ students(first: 100) { edges { node { cases { student { cases { student { cases { id notes { body } } } } } } } } } }",
            json!({}),
        )
        .await;
    refused(&res, "cost");
}

#[tokio::test]
async fn alias_floods_and_repeated_note_searches_are_refused() {
    let app = spawn_app().await;
    let aliases: String = (0..120).map(|i| format!("a{i}: me {{ id }} ")).collect();
    refused(
        &as_student(&app, &format!("{{ {aliases} }}")).await,
        "aliases",
    );
    refused(&note_searches(&app, 3).await, "noteContains searches");
    // Searches hidden in variables count too.
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            "query($a: SupportCaseFilterInput, $b: SupportCaseFilterInput, $c: SupportCaseFilterInput) { a: supportCases(filter: $a) { totalCount } b: supportCases(filter: $b) { totalCount } c: supportCases(filter: $c) { totalCount } }",
            json!({ "a": { "noteContains": "x" }, "b": { "noteContains": "y" }, "c": { "noteContains": "z" } }),
        )
        .await;
    refused(&res, "noteContains searches");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_graphql_shaped_413() {
    let app = spawn_app().await;
    let token = app.token(app.demo.alice, Role::Student);
    let padding = "x".repeat(300 * 1024);
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("Authorization", format!("Bearer {token}"))
        .json(&json!({ "query": "{ me { id } }", "variables": { "pad": padding } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    assert!(res.headers().get("x-request-id").is_some());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(body["data"].is_null());
}

#[tokio::test]
async fn a_query_text_over_the_size_limit_is_refused_before_it_is_parsed() {
    let app = spawn_app().await;
    refused(&note_searches(&app, 2500).await, "query bytes");
}
