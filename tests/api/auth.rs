use crate::helpers::{spawn_app, spawn_app_with, SECRET};
use confide::auth::Claims;
use confide::domain::Role;
use serde_json::json;

const ME: &str = "{ me { id role name service registeredMentalHealthProfessional } }";

fn claims(sub: uuid::Uuid, role: &str, exp_offset: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: sub.to_string(),
        role: role.to_owned(),
        exp: now + exp_offset,
        nbf: None,
        iat: Some(now),
        iss: None,
        aud: None,
    }
}

fn assert_unauthenticated(res: &crate::helpers::Gql) {
    assert_eq!(res.status, 401, "{:#}", res.body);
    assert_eq!(res.codes(), vec!["UNAUTHENTICATED"]);
    assert!(res.body["data"].is_null());
}

#[tokio::test]
async fn valid_token_makes_a_caller_with_attributes_from_the_database() {
    let app = spawn_app().await;
    let res = app
        .as_caller(app.demo.counsellor, Role::Practitioner, ME, json!({}))
        .await;
    res.assert_no_errors();
    assert_eq!(res.status, 200);
    assert_eq!(res.data()["me"]["service"], "counselling");
    assert_eq!(res.data()["me"]["registeredMentalHealthProfessional"], true);
    assert_eq!(res.data()["me"]["role"], "PRACTITIONER");
}

#[tokio::test]
async fn missing_token_is_unauthenticated() {
    let app = spawn_app().await;
    assert_unauthenticated(&app.post_raw(None, json!({ "query": ME })).await);
    assert_unauthenticated(
        &app.post_raw(Some("Basic abc"), json!({ "query": ME }))
            .await,
    );
    assert_unauthenticated(
        &app.post_raw(Some("Bearer not.a.jwt"), json!({ "query": ME }))
            .await,
    );
}

#[tokio::test]
async fn expired_token_is_unauthenticated() {
    let app = spawn_app().await;
    let token = app.token_with_claims(&claims(app.demo.counsellor, "practitioner", -3600));
    assert_unauthenticated(&app.gql(&token, ME, json!({})).await);
}

#[tokio::test]
async fn token_not_yet_valid_is_unauthenticated() {
    let app = spawn_app().await;
    let mut c = claims(app.demo.counsellor, "practitioner", 7200);
    c.nbf = Some(chrono::Utc::now().timestamp() + 3600);
    assert_unauthenticated(&app.gql(&app.token_with_claims(&c), ME, json!({})).await);
}

#[tokio::test]
async fn token_signed_with_another_secret_is_unauthenticated() {
    let app = spawn_app().await;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(app.demo.dpo, "dpo", 600),
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-another-secret-another-secret"),
    )
    .unwrap();
    assert_unauthenticated(&app.gql(&token, ME, json!({})).await);
}

#[tokio::test]
async fn tampered_token_payload_is_unauthenticated() {
    use base64::Engine;
    let app = spawn_app().await;
    let token = app.token(app.demo.reception, Role::Reception);
    let parts: Vec<&str> = token.split('.').collect();
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&claims(app.demo.reception, "dpo", 600)).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_unauthenticated(&app.gql(&tampered, ME, json!({})).await);
}

#[tokio::test]
async fn token_whose_role_does_not_match_the_record_is_unauthenticated() {
    let app = spawn_app().await;
    let token = app.token(app.demo.reception, Role::Dpo);
    assert_unauthenticated(&app.gql(&token, ME, json!({})).await);
    let token = app.token(app.demo.alice, Role::Practitioner);
    assert_unauthenticated(&app.gql(&token, ME, json!({})).await);
}

#[tokio::test]
async fn token_for_unknown_or_inactive_subject_is_unauthenticated() {
    let app = spawn_app().await;
    let token = app.token(uuid::Uuid::now_v7(), Role::Practitioner);
    assert_unauthenticated(&app.gql(&token, ME, json!({})).await);
    let token = app.token(app.demo.former_counsellor, Role::Practitioner);
    assert_unauthenticated(&app.gql(&token, ME, json!({})).await);
}

#[tokio::test]
async fn token_with_unknown_role_is_unauthenticated() {
    let app = spawn_app().await;
    let token = app.token_with_claims(&claims(app.demo.dpo, "superuser", 600));
    assert_unauthenticated(&app.gql(&token, ME, json!({})).await);
}

#[tokio::test]
async fn malformed_body_is_unauthenticated_without_a_token_and_bad_input_with_one() {
    let app = spawn_app().await;
    let send = |auth: Option<String>| {
        let mut r = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("content-type", "application/json")
            .body("{not json");
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        r.send()
    };
    let res = send(None).await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let token = app.token(app.demo.dpo, Role::Dpo);
    let res = send(Some(format!("Bearer {token}"))).await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn unauthenticated_mutation_executes_nothing() {
    let app = spawn_app().await;
    let before = app.count("student").await;
    let res = app
        .post_raw(
            None,
            json!({ "query": r#"mutation { createStudent(input: { studentNumber: "S9", name: "X", email: "x@uni.example", department: "history", course: "BA" }) { id } }"# }),
        )
        .await;
    assert_unauthenticated(&res);
    assert_eq!(app.count("student").await, before);
}

#[tokio::test]
async fn rs256_token_from_an_identity_provider_is_accepted_and_hs256_is_not() {
    let public = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rs256_public.pem");
    let app = spawn_app_with(|s| {
        s.jwt.secret = None;
        s.jwt.public_key_path = Some(public);
        s.jwt.issuer = Some("https://idp.uni.example".to_owned());
        s.jwt.audience = Some("confide".to_owned());
    })
    .await;
    let private = include_bytes!("../fixtures/rs256_private.pem");
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private).unwrap();
    let mut c = claims(app.demo.dpo, "dpo", 600);
    c.iss = Some("https://idp.uni.example".to_owned());
    c.aud = Some(confide::auth::Audiences::One("confide".to_owned()));
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &c,
        &key,
    )
    .unwrap();
    let res = app.gql(&token, ME, json!({})).await;
    res.assert_no_errors();
    assert_eq!(res.data()["me"]["role"], "DPO");

    let mut wrong_aud = c;
    wrong_aud.aud = Some(confide::auth::Audiences::One("another-api".to_owned()));
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &wrong_aud,
        &key,
    )
    .unwrap();
    assert_unauthenticated(&app.gql(&token, ME, json!({})).await);

    // A configured issuer and audience are required, not merely checked when present.
    let mut bare = claims(app.demo.dpo, "dpo", 600);
    bare.iss = None;
    bare.aud = None;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &bare,
        &key,
    )
    .unwrap();
    assert_unauthenticated(&app.gql(&token, ME, json!({})).await);

    // An HS256 token signed with a guessable secret must not pass an RS256 deployment.
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(app.demo.dpo, "dpo", 600),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_unauthenticated(&app.gql(&hs, ME, json!({})).await);
}

#[tokio::test]
async fn token_rules_aud_array_any_case_scheme_one_header_and_a_maximum_lifetime() {
    let app = spawn_app_with(|s| s.jwt.audience = Some("confide".to_owned())).await;
    let sign = |c: &Claims| app.token_with_claims(c);
    // `aud` as an array that contains the configured audience.
    let mut c = claims(app.demo.dpo, "dpo", 600);
    c.aud = Some(confide::auth::Audiences::Many(vec![
        "another-api".to_owned(),
        "confide".to_owned(),
    ]));
    let token = sign(&c);
    app.gql(&token, ME, json!({})).await.assert_no_errors();
    // The scheme in lower case.
    let lower = app
        .post_raw(Some(&format!("bearer {token}")), json!({ "query": ME }))
        .await;
    lower.assert_no_errors();
    // Two Authorization headers: neither is used.
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("Authorization", format!("Bearer {token}"))
        .header("Authorization", format!("Bearer {token}"))
        .json(&json!({ "query": ME }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    // A token living longer than the maximum (12 hours by default) is refused.
    let mut long = claims(app.demo.dpo, "dpo", 13 * 3600);
    long.aud = Some(confide::auth::Audiences::One("confide".to_owned()));
    assert_unauthenticated(&app.gql(&sign(&long), ME, json!({})).await);
}

#[tokio::test]
async fn a_control_character_in_text_is_bad_input_and_nothing_is_written() {
    let app = spawn_app().await;
    let before = app.count("student").await;
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            r#"mutation($input: CreateStudentInput!) { createStudent(input: $input) { id } }"#,
            json!({ "input": { "studentNumber": "S9", "name": "Nul\u{0}Byte", "email": "n@uni.example", "department": "history", "course": "BA" } }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(res.errors()[0]["extensions"]["field"], "input.name");
    assert_eq!(app.count("student").await, before);
}
