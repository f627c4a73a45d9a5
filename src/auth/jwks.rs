//! The identity provider's signing keys: a JWKS found by OpenID Connect
//! discovery (or configured directly), fetched over HTTP, cached, refreshed on
//! a schedule and when a token names a key id the cache does not hold (at most
//! once per `min_refetch`, so a flood of bogus `kid`s cannot hammer the
//! provider). Only RSA keys (RS256) and P-256 keys (ES256) are taken; every
//! other key of the set (HMAC `oct` keys included) is ignored. Unreachable
//! provider and unknown key: the token is refused (fail closed).

use crate::error::{AppError, AppResult};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

/// Where the key set comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// `{issuer}/.well-known/openid-configuration` -> `jwks_uri`.
    Discovery { issuer: String },
    /// The JWKS URL itself.
    Url(String),
}

/// A verification key and the one algorithm it is used with.
#[derive(Clone)]
pub struct Key {
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

pub struct Jwks {
    source: Source,
    client: reqwest::Client,
    keys: RwLock<Arc<HashMap<String, Key>>>,
    /// When the set was last fetched (successfully or not); held while a
    /// fetch runs, so concurrent unknown `kid`s wait for one fetch.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    min_refetch: Duration,
    refresh: Duration,
}

#[derive(serde::Deserialize)]
struct Discovery {
    /// Must be the configured issuer (OpenID Connect Discovery 1.0, 4.3).
    issuer: String,
    jwks_uri: String,
}

/// Plain `http://` only to a loopback address; otherwise `https://`.
fn checked_url(url: &str) -> AppResult<reqwest::Url> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| AppError::internal("jwks", format!("invalid URL {url}: {e}")))?;
    let loopback = match parsed.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(AppError::internal(
            "jwks",
            format!("{url}: the identity provider must be reached over https"),
        )),
    }
}

/// The keys of a set Confide verifies with, by `kid`: RSA keys as RS256 and
/// P-256 keys as ES256; a key whose `alg` says otherwise, a key without a
/// `kid`, and every other kind of key are left out.
pub fn usable_keys(set: &JwkSet) -> HashMap<String, Key> {
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            _ => continue,
        };
        let declared_ok = match jwk.common.key_algorithm {
            None => true,
            Some(KeyAlgorithm::RS256) => algorithm == Algorithm::RS256,
            Some(KeyAlgorithm::ES256) => algorithm == Algorithm::ES256,
            Some(_) => false,
        };
        if !declared_ok {
            continue;
        }
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => {
                keys.insert(kid, Key { key, algorithm });
            }
            Err(e) => tracing::warn!(kid, error = %e, "unusable key in the JWKS"),
        }
    }
    keys
}

impl Jwks {
    pub fn new(source: Source, refresh: Duration, min_refetch: Duration) -> AppResult<Self> {
        match &source {
            Source::Discovery { issuer } => checked_url(issuer)?,
            Source::Url(url) => checked_url(url)?,
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AppError::internal("jwks client", e))?;
        Ok(Jwks {
            source,
            client,
            keys: RwLock::new(Arc::new(HashMap::new())),
            last_fetch: tokio::sync::Mutex::new(None),
            min_refetch,
            refresh,
        })
    }

    fn cached(&self, kid: &str) -> Option<Key> {
        self.keys.read().ok().and_then(|k| k.get(kid).cloned())
    }

    /// The key named `kid`: from the cache, or after a fetch if the cache
    /// does not hold it and the last fetch is older than `min_refetch`.
    pub async fn key(&self, kid: &str) -> Option<Key> {
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        let mut last = self.last_fetch.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        if last.is_some_and(|t| t.elapsed() < self.min_refetch) {
            tracing::info!(
                kid,
                "unknown key id; JWKS fetched too recently to fetch again"
            );
            return None;
        }
        *last = Some(Instant::now());
        if let Err(e) = self.fetch().await {
            e.log();
        }
        self.cached(kid)
    }

    /// Fetches the set and replaces the cache (a failed fetch keeps it).
    pub async fn fetch(&self) -> AppResult<usize> {
        let url = match &self.source {
            Source::Url(url) => checked_url(url)?,
            Source::Discovery { issuer } => {
                let base = issuer.trim_end_matches('/');
                let discovery = checked_url(&format!("{base}/.well-known/openid-configuration"))?;
                let doc: Discovery = self.get_json(discovery).await?;
                if doc.issuer.trim_end_matches('/') != base {
                    return Err(AppError::internal(
                        "oidc discovery",
                        format!("the document names issuer {:?}, not {base:?}", doc.issuer),
                    ));
                }
                checked_url(&doc.jwks_uri)?
            }
        };
        let set: JwkSet = self.get_json(url).await?;
        let keys = usable_keys(&set);
        let count = keys.len();
        if let Ok(mut cache) = self.keys.write() {
            *cache = Arc::new(keys);
        }
        tracing::info!(keys = count, "JWKS fetched");
        Ok(count)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: reqwest::Url) -> AppResult<T> {
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| AppError::internal("jwks fetch", format!("{url}: {e}")))?;
        response
            .json::<T>()
            .await
            .map_err(|e| AppError::internal("jwks fetch", format!("{url}: {e}")))
    }

    /// Refreshes the set every `refresh` until the cache is dropped (the task
    /// holds it weakly). Needs a Tokio runtime.
    pub fn spawn_refresh(self: &Arc<Self>) {
        let weak: Weak<Jwks> = Arc::downgrade(self);
        let period = self.refresh.max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            loop {
                // The first tick is at once: the keys are fetched at start.
                ticker.tick().await;
                let Some(jwks) = weak.upgrade() else {
                    break;
                };
                let mut last = jwks.last_fetch.lock().await;
                *last = Some(Instant::now());
                if let Err(e) = jwks.fetch().await {
                    e.log();
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(checked_url("https://idp.example.ac.uk").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(checked_url("http://localhost:8080/jwks").is_ok());
        assert!(checked_url("http://idp.example.ac.uk/jwks").is_err());
        assert!(checked_url("ftp://127.0.0.1/jwks").is_err());
    }

    #[test]
    fn hmac_keys_and_keys_without_kid_are_ignored() {
        let set: JwkSet = serde_json::from_value(serde_json::json!({ "keys": [
            { "kty": "oct", "kid": "h", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0" },
            { "kty": "RSA", "n": "sXch", "e": "AQAB" },
            { "kty": "RSA", "kid": "r", "alg": "RS256", "n": "sXch", "e": "AQAB" },
            { "kty": "RSA", "kid": "wrong-alg", "alg": "RS512", "n": "sXch", "e": "AQAB" }
        ]}))
        .unwrap();
        let keys = usable_keys(&set);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys["r"].algorithm, Algorithm::RS256);
    }

    #[tokio::test]
    async fn an_unreachable_provider_gives_no_key_and_is_not_asked_twice_at_once() {
        // Port 9 on loopback: nothing listens (connection refused).
        let jwks = Jwks::new(
            Source::Url("http://127.0.0.1:9/jwks".into()),
            Duration::from_secs(300),
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(jwks.key("a").await.is_none());
        let first = *jwks.last_fetch.lock().await;
        assert!(jwks.key("b").await.is_none());
        // Rate-limited: the second unknown kid caused no second fetch.
        assert_eq!(*jwks.last_fetch.lock().await, first);
    }
}
