//! Filters, sorts, cursors and counts pass the same decision as the output.

use crate::helpers::{id, spawn_app};
use base64::Engine;
use confide::domain::Role;
use serde_json::json;

const CASES: &str = r#"query($filter: SupportCaseFilterInput, $order: SupportCaseOrderBy, $first: Int, $after: String) {
    supportCases(filter: $filter, orderBy: $order, first: $first, after: $after) {
        totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor }
    }
}"#;

fn ids(res: &crate::helpers::Gql) -> Vec<String> {
    res.data()["supportCases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn risk_filter_matches_only_cases_whose_risk_the_caller_can_read() {
    let app = spawn_app().await;
    // Alice's counselling case is MEDIUM risk; the mental health adviser cannot read it.
    let res = app
        .as_caller(
            app.demo.mental_health_adviser,
            Role::Practitioner,
            CASES,
            json!({ "filter": { "riskLevel": "MEDIUM" } }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["supportCases"]["totalCount"], 0);
    assert!(ids(&res).is_empty());
    // The counsellor can.
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            CASES,
            json!({ "filter": { "riskLevel": "MEDIUM" } }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(ids(&res), vec![id(app.demo.alice_counselling_case)]);
    assert_eq!(res.data()["supportCases"]["totalCount"], 1);
}

#[tokio::test]
async fn filters_never_match_a_restricted_students_hidden_values() {
    let app = spawn_app().await;
    // Carol's (restricted) counselling case is LOW risk, in the counsellor's own service.
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            CASES,
            json!({ "filter": { "riskLevel": "LOW" } }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["supportCases"]["totalCount"], 0);
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            CASES,
            json!({ "filter": { "noteContains": "family" } }),
        )
        .await;
    assert_eq!(res.data()["supportCases"]["totalCount"], 0);
    // The DPO is not bound by the restriction.
    let res = app
        .as_caller(
            app.demo.dpo,
            Role::Dpo,
            CASES,
            json!({ "filter": { "status": "OPEN", "service": "counselling" } }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["supportCases"]["totalCount"], 2);
}

#[tokio::test]
async fn note_text_filter_only_searches_the_callers_own_service() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            CASES,
            json!({ "filter": { "noteContains": "LOW MOOD" } }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(ids(&res), vec![id(app.demo.alice_counselling_case)]);
    let res = app
        .as_caller(
            app.demo.mental_health_adviser,
            Role::Practitioner,
            CASES,
            json!({ "filter": { "noteContains": "low mood" } }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["supportCases"]["totalCount"], 0);
}

#[tokio::test]
async fn sorting_by_risk_puts_rows_with_hidden_risk_last_in_id_order() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.mental_health_adviser,
            Role::Practitioner,
            CASES,
            json!({ "order": "RISK_LEVEL_DESC" }),
        )
        .await;
    res.assert_no_errors();
    let got = ids(&res);
    assert_eq!(got[0], id(app.demo.alice_mental_health_case));
    // The rest (risk hidden) keep id order, whatever their risk.
    assert_eq!(
        got[1..].to_vec(),
        vec![
            id(app.demo.alice_counselling_case),
            id(app.demo.bob_disability_case),
            id(app.demo.carol_counselling_case)
        ]
    );
}

#[tokio::test]
async fn filter_on_a_field_the_caller_can_read_nowhere_is_forbidden() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.it_support,
            Role::ItSupport,
            CASES,
            json!({ "filter": { "service": "counselling" } }),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    let res = app
        .as_caller(
            app.demo.it_support,
            Role::ItSupport,
            r#"{ students(filter: { nameContains: "alice" }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    let res = app
        .as_caller(
            app.demo.it_support,
            Role::ItSupport,
            r#"{ students(orderBy: NAME) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
}

#[tokio::test]
async fn cursors_encode_positions_not_values_and_paginate() {
    let app = spawn_app().await;
    let first = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            CASES,
            json!({ "first": 2, "order": "RISK_LEVEL_DESC" }),
        )
        .await;
    first.assert_no_errors();
    assert_eq!(
        first.data()["supportCases"]["pageInfo"]["hasNextPage"],
        true
    );
    for edge in first.data()["supportCases"]["edges"].as_array().unwrap() {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(edge["cursor"].as_str().unwrap())
            .unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(text.starts_with("confide:v1:"), "{text}");
        assert!(
            text["confide:v1:".len()..]
                .chars()
                .all(|c| c.is_ascii_digit()),
            "{text}"
        );
    }
    let after = first.data()["supportCases"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            CASES,
            json!({ "first": 2, "after": after, "order": "RISK_LEVEL_DESC" }),
        )
        .await;
    second.assert_no_errors();
    let mut all = ids(&first);
    all.extend(ids(&second));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4);
    assert_eq!(
        second.data()["supportCases"]["pageInfo"]["hasNextPage"],
        false
    );
}

#[tokio::test]
async fn invalid_cursor_and_oversized_page_are_bad_user_input() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            CASES,
            json!({ "after": "bm9wZQ" }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(res.errors()[0]["extensions"]["field"], "after");
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            CASES,
            json!({ "first": 1000 }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(res.errors()[0]["extensions"]["field"], "first");
}

#[tokio::test]
async fn practitioner_filters_their_own_assigned_open_cases() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            CASES,
            json!({ "filter": { "assignedToMe": true, "status": "OPEN", "service": "counselling" } }),
        )
        .await;
    res.assert_no_errors();
    // Carol's case is assigned to the counsellor too, but her processing is restricted.
    assert_eq!(ids(&res), vec![id(app.demo.alice_counselling_case)]);
}
