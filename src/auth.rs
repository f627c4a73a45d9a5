//! Authentication: a bearer JWT becomes a [`Caller`], whose attributes come from
//! the database record named by `sub`, never from the token alone.

use crate::domain::Role;
use crate::error::{AppError, AppResult};
use crate::settings::JwtSettings;
use entity::{department, partner_organisation, staff, student, university_service};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

pub mod jwks;

/// Who is calling, as far as the policy is concerned.
#[derive(Clone, Debug)]
pub struct Caller {
    pub id: Uuid,
    pub role: Role,
    pub name: String,
    /// Student Support service (practitioner, service lead, reception).
    pub service: Option<String>,
    /// Academic department (role department).
    pub department: Option<String>,
    /// Named university unit (role university_service).
    pub unit: Option<String>,
    /// Registered mental health professional.
    pub registered_mhp: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    pub exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audiences>,
}

/// The `aud` claim: one audience or several (RFC 7519 allows both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audiences {
    One(String),
    Many(Vec<String>),
}

/// Longest lifetime (`exp` - `iat`, or `exp` - now without `iat`) a token may
/// have unless configured otherwise: 12 hours.
pub const DEFAULT_MAX_LIFETIME_MINUTES: i64 = 12 * 60;

/// How a token's signature is checked.
enum Verifier {
    /// HS256 with the shared secret, or RS256 with the configured public key.
    Fixed {
        decoding: DecodingKey,
        algorithm: Algorithm,
    },
    /// RS256 or ES256 with the identity provider's key named by the token's `kid`.
    Jwks(Arc<jwks::Jwks>),
}

/// How the role and the subject are read from a verified token.
struct ClaimMapping {
    /// Dotted path of the role claim.
    role_claim: Vec<String>,
    /// The provider's values -> Confide's roles; empty: values are role names.
    role_map: HashMap<String, Role>,
    /// The claim carrying Confide's id (or a partner's `idp_subject`).
    subject_claim: String,
}

/// Verifies tokens (HS256 with a shared secret, RS256 with a PEM public key, or
/// RS256/ES256 with the identity provider's JWKS) and, with a secret, signs
/// development tokens.
pub struct Authenticator {
    verifier: Verifier,
    validation: Validation,
    encoding: Option<EncodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    max_lifetime: chrono::Duration,
    claims: ClaimMapping,
}

/// The token of an `Authorization` header value: the scheme `Bearer` in any
/// case, one space or more, the token.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `idp_value=confide_role` pairs; an unknown Confide role is refused at start.
fn parse_role_map(entries: &[String]) -> AppResult<HashMap<String, Role>> {
    let mut map = HashMap::new();
    for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        let (from, to) = entry.split_once('=').ok_or_else(|| {
            AppError::internal("jwt role map", format!("{entry:?} is not idp_value=role"))
        })?;
        let role = Role::parse(to.trim()).ok_or_else(|| {
            AppError::internal("jwt role map", format!("{to:?} is not a Confide role"))
        })?;
        map.insert(from.trim().to_owned(), role);
    }
    Ok(map)
}

/// The value at a dotted path of the claims.
fn claim_at<'c>(claims: &'c serde_json::Value, path: &[String]) -> Option<&'c serde_json::Value> {
    path.iter().try_fold(claims, |node, key| node.get(key))
}

impl ClaimMapping {
    /// The one Confide role the token's role claim names (a string or an
    /// array of strings). None: no role, or more than one (ambiguous).
    fn role(&self, claims: &serde_json::Value) -> Option<Role> {
        let values: Vec<&str> = match claim_at(claims, &self.role_claim)? {
            serde_json::Value::String(s) => vec![s.as_str()],
            serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_str()).collect(),
            _ => return None,
        };
        let mut roles: Vec<Role> = values
            .into_iter()
            .filter_map(|v| {
                if self.role_map.is_empty() {
                    Role::parse(v)
                } else {
                    self.role_map.get(v).copied()
                }
            })
            .collect();
        roles.sort_by_key(|r| r.as_str());
        roles.dedup();
        match roles.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    fn subject<'c>(&self, claims: &'c serde_json::Value) -> Option<&'c str> {
        claims.get(&self.subject_claim)?.as_str()
    }
}

impl Authenticator {
    pub fn from_settings(settings: &JwtSettings) -> AppResult<Self> {
        let jwks_source = match (&settings.jwks_url, &settings.oidc_issuer) {
            (Some(url), _) => Some(jwks::Source::Url(url.clone())),
            (None, Some(issuer)) => Some(jwks::Source::Discovery {
                issuer: issuer.clone(),
            }),
            (None, None) => None,
        };
        let (verifier, algorithms, encoding) = match (
            jwks_source,
            &settings.public_key_path,
            &settings.secret,
        ) {
            (Some(source), _, _) => {
                let cache = jwks::Jwks::new(
                    source,
                    std::time::Duration::from_secs(settings.jwks_refresh_secs.unwrap_or(300)),
                    std::time::Duration::from_secs(settings.jwks_min_refetch_secs.unwrap_or(30)),
                )?;
                (
                    Verifier::Jwks(Arc::new(cache)),
                    vec![Algorithm::RS256, Algorithm::ES256],
                    None,
                )
            }
            (None, Some(path), _) => {
                let pem = std::fs::read(path).map_err(|e| {
                    AppError::internal("jwt", format!("cannot read {}: {e}", path.display()))
                })?;
                let key = DecodingKey::from_rsa_pem(&pem)
                    .map_err(|e| AppError::internal("jwt public key", e))?;
                (
                    Verifier::Fixed {
                        decoding: key,
                        algorithm: Algorithm::RS256,
                    },
                    vec![Algorithm::RS256],
                    None,
                )
            }
            (None, None, Some(secret)) => {
                if secret.len() < 32 {
                    return Err(AppError::internal(
                        "jwt",
                        "the HS256 secret must be at least 32 bytes",
                    ));
                }
                (
                    Verifier::Fixed {
                        decoding: DecodingKey::from_secret(secret.as_bytes()),
                        algorithm: Algorithm::HS256,
                    },
                    vec![Algorithm::HS256],
                    Some(EncodingKey::from_secret(secret.as_bytes())),
                )
            }
            (None, None, None) => return Err(AppError::internal(
                "jwt",
                "no JWT key configured: set CONFIDE_OIDC_ISSUER, CONFIDE_JWKS_URL, CONFIDE_JWT_SECRET or CONFIDE_JWT_PUBLIC_KEY_PATH",
            )),
        };
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 5;
        // A configured issuer or audience is required, not merely checked when
        // present. With discovery, the issuer is the OIDC issuer unless set.
        let issuer = settings
            .issuer
            .clone()
            .or_else(|| settings.oidc_issuer.clone());
        let mut required = vec!["exp", "sub"];
        match &issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &settings.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let role_claim = settings.role_claim.as_deref().unwrap_or("role");
        Ok(Self {
            verifier,
            validation,
            encoding,
            issuer,
            audience: settings.audience.clone(),
            max_lifetime: chrono::Duration::minutes(
                settings
                    .max_lifetime_minutes
                    .unwrap_or(DEFAULT_MAX_LIFETIME_MINUTES),
            ),
            claims: ClaimMapping {
                role_claim: role_claim.split('.').map(str::to_owned).collect(),
                role_map: parse_role_map(&settings.role_map)?,
                subject_claim: settings
                    .subject_claim
                    .clone()
                    .unwrap_or_else(|| "sub".to_owned()),
            },
        })
    }

    /// With a JWKS: fetches the keys now and then on the schedule (needs a
    /// Tokio runtime). A provider unreachable at start is logged, not fatal:
    /// tokens are refused until a fetch succeeds.
    pub fn start_key_refresh(&self) {
        if let Verifier::Jwks(cache) = &self.verifier {
            cache.spawn_refresh();
        }
    }

    /// Signs a development token (HS256 only).
    pub fn issue(&self, sub: Uuid, role: Role, ttl: chrono::Duration) -> AppResult<String> {
        let key = self.encoding.as_ref().ok_or_else(|| {
            AppError::internal("jwt", "tokens can only be issued with an HS256 secret")
        })?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.to_string(),
            role: role.as_str().to_owned(),
            exp: now + ttl.num_seconds(),
            nbf: Some(now),
            iat: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone().map(Audiences::One),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key)
            .map_err(|e| AppError::internal("jwt encode", e))
    }

    /// The verified claims of a token: its signature by an allowed algorithm
    /// with the right key, and `exp`, `nbf`, `iss`, `aud`.
    async fn verify(&self, token: &str) -> Result<serde_json::Value, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        // `none`, and HS256 against a public key, are never in the set.
        if !self.validation.algorithms.contains(&header.alg) {
            return Err(format!("algorithm {:?} not allowed", header.alg));
        }
        let (key, algorithm) = match &self.verifier {
            Verifier::Fixed {
                decoding,
                algorithm,
            } => (decoding.clone(), *algorithm),
            Verifier::Jwks(cache) => {
                let kid = header.kid.as_deref().ok_or("token without kid")?;
                let key = cache
                    .key(kid)
                    .await
                    .ok_or_else(|| format!("unknown key id {kid:?}"))?;
                (key.key, key.algorithm)
            }
        };
        if header.alg != algorithm {
            return Err(format!(
                "algorithm {:?} does not match the key's {algorithm:?}",
                header.alg
            ));
        }
        let mut validation = self.validation.clone();
        validation.algorithms = vec![algorithm];
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }

    /// Verifies the `Authorization` header value and loads the caller.
    /// Every failure is `Unauthenticated`; the reason is logged, not returned.
    pub async fn authenticate(
        &self,
        db: &DatabaseConnection,
        header: Option<&str>,
    ) -> AppResult<Caller> {
        let token = header
            .and_then(bearer_token)
            .ok_or(AppError::Unauthenticated)?;
        let claims = self.verify(token).await.map_err(|error| {
            tracing::info!(error, "rejected token");
            AppError::Unauthenticated
        })?;
        let exp = claims
            .get("exp")
            .and_then(|v| v.as_i64())
            .ok_or(AppError::Unauthenticated)?;
        let issued = claims
            .get("iat")
            .and_then(|v| v.as_i64())
            .unwrap_or_else(|| chrono::Utc::now().timestamp());
        if exp - issued > self.max_lifetime.num_seconds() {
            tracing::info!(
                lifetime_s = exp - issued,
                "rejected token: longer-lived than the configured maximum"
            );
            return Err(AppError::Unauthenticated);
        }
        let role = self.claims.role(&claims).ok_or_else(|| {
            tracing::info!("rejected token: its role claim names no single Confide role");
            AppError::Unauthenticated
        })?;
        let sub = self.claims.subject(&claims).ok_or_else(|| {
            tracing::info!("rejected token: no subject claim");
            AppError::Unauthenticated
        })?;
        load_subject(db, sub, role).await?.ok_or_else(|| {
            tracing::info!(
                sub,
                role = role.as_str(),
                "token names no active record with that role"
            );
            AppError::Unauthenticated
        })
    }
}

/// A registered mental health professional: a registration with a named body,
/// a number and an expiry on file, not lapsed (a lapsed one counts as none).
pub fn registration_in_force(s: &staff::Model, today: chrono::NaiveDate) -> bool {
    s.registered_mhp
        && s.registration_body
            .as_deref()
            .is_some_and(|b| !b.is_empty())
        && s.registration_number
            .as_deref()
            .is_some_and(|n| !n.is_empty())
        && s.registration_expires_on.is_some_and(|e| today <= e)
}

/// The active record a token's `sub` names in `role`: Confide's id of the
/// record, or, for a partner, the subject its identity provider puts in its
/// tokens (`partner_organisation.idp_subject`).
pub async fn load_subject(
    db: &DatabaseConnection,
    sub: &str,
    role: Role,
) -> AppResult<Option<Caller>> {
    if let Ok(id) = Uuid::parse_str(sub) {
        if let Some(caller) = load_caller(db, id, role).await? {
            return Ok(Some(caller));
        }
    }
    if role != Role::Partner || sub.is_empty() {
        return Ok(None);
    }
    let org = partner_organisation::Entity::find()
        .filter(partner_organisation::Column::IdpSubject.eq(sub))
        .one(db)
        .await?;
    match org {
        Some(org) => load_caller(db, org.id, role).await,
        None => Ok(None),
    }
}

/// Whether the department or university service a staff record of `role` is
/// attached to is an active row of its table (a deactivated or unknown one
/// refuses its callers). True for roles attached to neither.
async fn attachment_active(
    db: &DatabaseConnection,
    role: Role,
    s: &staff::Model,
) -> AppResult<bool> {
    use crate::domain::StaffAttachment;
    Ok(match role.staff_attachment() {
        Some(StaffAttachment::Department) => match &s.department {
            Some(code) => department::Entity::find()
                .filter(department::Column::Code.eq(code.as_str()))
                .filter(department::Column::Active.eq(true))
                .one(db)
                .await?
                .is_some(),
            None => false,
        },
        Some(StaffAttachment::UniversityService) => match &s.university_unit {
            Some(code) => university_service::Entity::find()
                .filter(university_service::Column::Code.eq(code.as_str()))
                .filter(university_service::Column::Active.eq(true))
                .one(db)
                .await?
                .is_some(),
            None => false,
        },
        Some(StaffAttachment::Service | StaffAttachment::Nothing) | None => true,
    })
}

/// The active record behind `(id, role)`, if there is one: the record is
/// active, and so is the department or university service it is attached to.
pub async fn load_caller(
    db: &DatabaseConnection,
    id: Uuid,
    role: Role,
) -> AppResult<Option<Caller>> {
    Ok(match role {
        Role::Student => student::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|s| Caller {
                id,
                role,
                name: s.name,
                service: None,
                department: None,
                unit: None,
                registered_mhp: false,
            }),
        Role::Partner => partner_organisation::Entity::find_by_id(id)
            .one(db)
            .await?
            .filter(|p| p.active)
            .map(|p| Caller {
                id,
                role,
                name: p.name,
                service: None,
                department: None,
                unit: None,
                registered_mhp: false,
            }),
        Role::Practitioner
        | Role::ServiceLead
        | Role::Reception
        | Role::Analyst
        | Role::ItSupport
        | Role::Dpo
        | Role::Admin
        | Role::Department
        | Role::UniversityService => {
            let member = staff::Entity::find_by_id(id)
                .one(db)
                .await?
                .filter(|s| s.active && s.role == role.as_str());
            let member = match member {
                Some(s) if attachment_active(db, role, &s).await? => Some(s),
                Some(_) | None => None,
            };
            member.map(|s| {
                let registered = registration_in_force(&s, chrono::Utc::now().date_naive());
                Caller {
                    id,
                    role,
                    name: s.name,
                    service: s.service,
                    department: s.department,
                    unit: s.university_unit,
                    registered_mhp: registered,
                }
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER   abc "), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
    }

    fn mapping(claim: &str, map: &[&str]) -> ClaimMapping {
        ClaimMapping {
            role_claim: claim.split('.').map(str::to_owned).collect(),
            role_map: parse_role_map(&map.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap(),
            subject_claim: "sub".into(),
        }
    }

    #[test]
    fn the_role_claim_is_mapped_and_must_name_one_role() {
        let plain = mapping("role", &[]);
        assert_eq!(
            plain.role(&serde_json::json!({"role": "dpo"})),
            Some(Role::Dpo)
        );
        assert_eq!(plain.role(&serde_json::json!({"role": "boss"})), None);
        let mapped = mapping(
            "realm_access.roles",
            &["counsellor=practitioner", "privacy-officer=dpo"],
        );
        let claims = serde_json::json!({"realm_access": {"roles": ["offline", "counsellor"]}});
        assert_eq!(mapped.role(&claims), Some(Role::Practitioner));
        // A Confide role name not in the map does not count.
        let claims = serde_json::json!({"realm_access": {"roles": ["dpo"]}});
        assert_eq!(mapped.role(&claims), None);
        // Two roles: ambiguous, refused.
        let claims =
            serde_json::json!({"realm_access": {"roles": ["counsellor", "privacy-officer"]}});
        assert_eq!(mapped.role(&claims), None);
        assert!(parse_role_map(&["x=emperor".to_owned()]).is_err());
        assert!(parse_role_map(&["nonsense".to_owned()]).is_err());
    }

    #[test]
    fn aud_is_one_string_or_an_array() {
        let one: Audiences = serde_json::from_str("\"confide\"").unwrap();
        assert_eq!(one, Audiences::One("confide".into()));
        let many: Audiences = serde_json::from_str("[\"a\", \"confide\"]").unwrap();
        assert_eq!(many, Audiences::Many(vec!["a".into(), "confide".into()]));
    }
}
