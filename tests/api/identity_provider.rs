//! The identity provider's keys: OIDC discovery and a JWKS served by a local
//! HTTP server inside the test, keys rotated mid-run without restarting
//! Confide, RS256 and ES256, an unknown key refused, an unreachable provider
//! refused, and the role claim mapped.

use crate::helpers::{spawn_app_with, TestApp};
use actix_web::{web, App, HttpResponse, HttpServer};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const RSA_A: &str = include_str!("../keys/rsa_a.pem");
const RSA_B: &str = include_str!("../keys/rsa_b.pem");
const EC_A: &str = include_str!("../keys/ec_a.pem");

struct Signer {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
}

impl Signer {
    fn rsa(kid: &'static str, pem: &str) -> Self {
        Signer {
            kid,
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        }
    }

    fn ec(kid: &'static str, pem: &str) -> Self {
        Signer {
            kid,
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        }
    }

    fn jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.to_owned());
        jwk
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

/// A local identity provider: discovery and the JWKS, whose keys the test
/// replaces at will; it counts the JWKS requests.
struct Provider {
    issuer: String,
    keys: Arc<Mutex<JwkSet>>,
    fetches: Arc<Mutex<u32>>,
    server: actix_web::dev::ServerHandle,
}

async fn start_provider(keys: Vec<Jwk>) -> Provider {
    let set = Arc::new(Mutex::new(JwkSet { keys }));
    let fetches = Arc::new(Mutex::new(0u32));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let issuer = format!("http://127.0.0.1:{port}");
    let (s, f, i) = (set.clone(), fetches.clone(), issuer.clone());
    let server = HttpServer::new(move || {
        let (s, f, i) = (s.clone(), f.clone(), i.clone());
        App::new()
            .route(
                "/.well-known/openid-configuration",
                web::get().to(move || {
                    let i = i.clone();
                    async move {
                        HttpResponse::Ok().json(json!({
                            "issuer": i,
                            "jwks_uri": format!("{i}/keys"),
                        }))
                    }
                }),
            )
            .route(
                "/keys",
                web::get().to(move || {
                    let (s, f) = (s.clone(), f.clone());
                    async move {
                        *f.lock().unwrap() += 1;
                        let body = serde_json::to_value(&*s.lock().unwrap()).unwrap();
                        HttpResponse::Ok().json(body)
                    }
                }),
            )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Provider {
        issuer,
        keys: set,
        fetches,
        server: handle,
    }
}

impl Provider {
    fn serve(&self, keys: Vec<Jwk>) {
        *self.keys.lock().unwrap() = JwkSet { keys };
    }
    fn fetches(&self) -> u32 {
        *self.fetches.lock().unwrap()
    }
}

fn claims(issuer: &str, sub: uuid::Uuid, role: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "iss": issuer, "sub": sub.to_string(), "role": role, "iat": now, "exp": now + 600 })
}

async fn me(app: &TestApp, token: &str) -> crate::helpers::Gql {
    app.gql(token, "{ me { id role } }", json!({})).await
}

fn refused(gql: &crate::helpers::Gql) -> bool {
    gql.status == 401 && gql.codes() == vec!["UNAUTHENTICATED".to_owned()]
}

#[tokio::test]
async fn rotated_provider_keys_are_taken_without_a_restart() {
    let rsa_a = Signer::rsa("rsa-a", RSA_A);
    let rsa_b = Signer::rsa("rsa-b", RSA_B);
    let ec_a = Signer::ec("ec-a", EC_A);
    let provider = start_provider(vec![rsa_a.jwk(), ec_a.jwk()]).await;
    let issuer = provider.issuer.clone();
    let app = spawn_app_with(|s| {
        s.jwt.oidc_issuer = Some(issuer.clone());
        s.jwt.jwks_min_refetch_secs = Some(0);
    })
    .await;
    let dpo = app.demo.dpo;

    // RS256 and ES256 keys of the discovered set are both accepted.
    let gql = me(&app, &rsa_a.sign(&claims(&issuer, dpo, json!("dpo")))).await;
    gql.assert_no_errors();
    assert_eq!(gql.data()["me"]["id"], json!(dpo.to_string()));
    me(&app, &ec_a.sign(&claims(&issuer, dpo, json!("dpo"))))
        .await
        .assert_no_errors();

    // A key not yet published is refused.
    assert!(refused(
        &me(&app, &rsa_b.sign(&claims(&issuer, dpo, json!("dpo")))).await
    ));

    // The provider rotates: rsa-a out, rsa-b in. The next token signed with
    // rsa-b names an unknown kid, Confide fetches the set again and accepts it.
    provider.serve(vec![rsa_b.jwk(), ec_a.jwk()]);
    me(&app, &rsa_b.sign(&claims(&issuer, dpo, json!("dpo"))))
        .await
        .assert_no_errors();
    // The removed key's tokens are refused from then on.
    assert!(refused(
        &me(&app, &rsa_a.sign(&claims(&issuer, dpo, json!("dpo")))).await
    ));
    // A token with a kid unknown after the rotation is refused, though the
    // signature itself is by a well-formed key.
    let stranger = Signer::rsa("never-published", RSA_A);
    assert!(refused(
        &me(&app, &stranger.sign(&claims(&issuer, dpo, json!("dpo")))).await
    ));
    // The wrong issuer is refused even with a good key.
    assert!(refused(
        &me(
            &app,
            &rsa_b.sign(&claims("https://elsewhere.example", dpo, json!("dpo")))
        )
        .await
    ));
    // HS256 (with any secret) is not in the allowed set of a JWKS.
    let hs = jsonwebtoken::encode(
        &Header {
            kid: Some("rsa-b".into()),
            ..Header::new(Algorithm::HS256)
        },
        &claims(&issuer, dpo, json!("dpo")),
        &EncodingKey::from_secret(crate::helpers::SECRET.as_bytes()),
    )
    .unwrap();
    assert!(refused(&me(&app, &hs).await));
    // alg none: an unsigned token.
    let unsigned = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let head = b64.encode(br#"{"alg":"none","kid":"rsa-b"}"#);
        let body = b64.encode(claims(&issuer, dpo, json!("dpo")).to_string());
        format!("{head}.{body}.")
    };
    assert!(refused(&me(&app, &unsigned).await));

    // The provider goes away: keys already cached still verify, an unknown
    // kid is refused (fail closed), never accepted unverified.
    provider.server.stop(true).await;
    me(&app, &ec_a.sign(&claims(&issuer, dpo, json!("dpo"))))
        .await
        .assert_no_errors();
    let late = Signer::rsa("rsa-late", RSA_A);
    assert!(refused(
        &me(&app, &late.sign(&claims(&issuer, dpo, json!("dpo")))).await
    ));
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_the_keys_at_most_once_per_interval() {
    let rsa_a = Signer::rsa("rsa-a", RSA_A);
    let provider = start_provider(vec![rsa_a.jwk()]).await;
    let issuer = provider.issuer.clone();
    let app = spawn_app_with(|s| {
        s.jwt.oidc_issuer = Some(issuer.clone());
        s.jwt.jwks_min_refetch_secs = Some(3600);
    })
    .await;
    let dpo = app.demo.dpo;
    me(&app, &rsa_a.sign(&claims(&issuer, dpo, json!("dpo"))))
        .await
        .assert_no_errors();
    let before = provider.fetches();
    assert!(before >= 1);
    for n in 0..20 {
        let bogus = Signer {
            kid: Box::leak(format!("bogus-{n}").into_boxed_str()),
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_pem(RSA_A.as_bytes()).unwrap(),
        };
        assert!(refused(
            &me(&app, &bogus.sign(&claims(&issuer, dpo, json!("dpo")))).await
        ));
    }
    // At most one fetch for the whole flood (none if the start-up fetch is recent).
    assert!(provider.fetches() <= before + 1, "{}", provider.fetches());
}

#[tokio::test]
async fn the_role_claim_and_its_values_are_configurable() {
    let rsa_a = Signer::rsa("rsa-a", RSA_A);
    let provider = start_provider(vec![rsa_a.jwk()]).await;
    let issuer = provider.issuer.clone();
    let jwks_url = format!("{issuer}/keys");
    let app = spawn_app_with(|s| {
        s.jwt.jwks_url = Some(jwks_url.clone());
        s.jwt.issuer = Some(issuer.clone());
        s.jwt.role_claim = Some("realm_access.roles".into());
        s.jwt.role_map = vec![
            "privacy-officer=dpo".into(),
            "counsellor=practitioner".into(),
        ];
    })
    .await;
    let now = chrono::Utc::now().timestamp();
    let token = |sub: uuid::Uuid, roles: Value| {
        rsa_a.sign(&json!({
            "iss": issuer, "sub": sub.to_string(), "iat": now, "exp": now + 600,
            "realm_access": { "roles": roles },
        }))
    };
    let gql = me(
        &app,
        &token(app.demo.dpo, json!(["offline_access", "privacy-officer"])),
    )
    .await;
    gql.assert_no_errors();
    assert_eq!(gql.data()["me"]["role"], json!("DPO"));
    me(&app, &token(app.demo.counsellor, json!(["counsellor"])))
        .await
        .assert_no_errors();
    // An unmapped value (even a Confide role name) gives no role.
    assert!(refused(
        &me(&app, &token(app.demo.dpo, json!(["dpo"]))).await
    ));
    // The subject must hold the mapped role in the directory.
    assert!(refused(
        &me(&app, &token(app.demo.dpo, json!(["counsellor"]))).await
    ));
}

#[tokio::test]
async fn an_unreachable_provider_refuses_every_token() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(|s| {
        s.jwt.oidc_issuer = Some(issuer.clone());
        s.jwt.jwks_min_refetch_secs = Some(0);
    })
    .await;
    let rsa_a = Signer::rsa("rsa-a", RSA_A);
    assert!(refused(
        &me(
            &app,
            &rsa_a.sign(&claims(&issuer, app.demo.dpo, json!("dpo")))
        )
        .await
    ));
    // The shared-secret token of the test helpers is refused too: with a
    // provider configured, the secret is not used.
    assert!(refused(
        &me(&app, &app.token(app.demo.dpo, confide::domain::Role::Dpo)).await
    ));
}

#[tokio::test]
async fn a_withdrawn_key_is_dropped_by_the_scheduled_refresh() {
    let rsa_a = Signer::rsa("rsa-a", RSA_A);
    let ec_a = Signer::ec("ec-a", EC_A);
    let provider = start_provider(vec![rsa_a.jwk(), ec_a.jwk()]).await;
    let issuer = provider.issuer.clone();
    let app = spawn_app_with(|s| {
        s.jwt.oidc_issuer = Some(issuer.clone());
        s.jwt.jwks_refresh_secs = Some(1);
        // No refetch on an unknown kid in this test: only the schedule.
        s.jwt.jwks_min_refetch_secs = Some(3600);
    })
    .await;
    let dpo = app.demo.dpo;
    me(&app, &rsa_a.sign(&claims(&issuer, dpo, json!("dpo"))))
        .await
        .assert_no_errors();
    // The provider withdraws rsa-a (no token names an unknown kid): the
    // scheduled refresh alone drops it, without a restart.
    provider.serve(vec![ec_a.jwk()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let gql = me(&app, &rsa_a.sign(&claims(&issuer, dpo, json!("dpo")))).await;
        if refused(&gql) {
            break;
        }
        gql.assert_no_errors();
        assert!(
            std::time::Instant::now() < deadline,
            "the withdrawn key is still accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    me(&app, &ec_a.sign(&claims(&issuer, dpo, json!("dpo"))))
        .await
        .assert_no_errors();
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_not_trusted() {
    let rsa_a = Signer::rsa("rsa-a", RSA_A);
    let provider = start_provider(vec![rsa_a.jwk()]).await;
    // The same server under another name: its discovery document announces
    // `http://127.0.0.1:port`, not the configured `http://localhost:port`.
    let configured = provider.issuer.replace("127.0.0.1", "localhost");
    let app = spawn_app_with(|s| {
        s.jwt.oidc_issuer = Some(configured.clone());
        s.jwt.jwks_min_refetch_secs = Some(0);
    })
    .await;
    let token = rsa_a.sign(&claims(&configured, app.demo.dpo, json!("dpo")));
    assert!(refused(&me(&app, &token).await));
    // Its keys were never taken.
    assert_eq!(provider.fetches(), 0);
}
