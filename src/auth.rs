//! Authentication: a bearer JWT becomes a [`Caller`], whose attributes come from
//! the database record named by `sub`, never from the token alone.

use crate::domain::Role;
use crate::error::{AppError, AppResult};
use crate::settings::JwtSettings;
use entity::{department, partner_organisation, staff, student, university_service};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

/// Verifies tokens (HS256 with a shared secret or RS256 with a PEM public key)
/// and, with a secret, signs development tokens.
pub struct Authenticator {
    decoding: DecodingKey,
    validation: Validation,
    encoding: Option<EncodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    max_lifetime: chrono::Duration,
}

/// The token of an `Authorization` header value: the scheme `Bearer` in any
/// case, one space or more, the token.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl Authenticator {
    pub fn from_settings(settings: &JwtSettings) -> AppResult<Self> {
        let (decoding, algorithm, encoding) =
            match (&settings.public_key_path, &settings.secret) {
                (Some(path), _) => {
                    let pem = std::fs::read(path).map_err(|e| {
                        AppError::internal("jwt", format!("cannot read {}: {e}", path.display()))
                    })?;
                    let key = DecodingKey::from_rsa_pem(&pem)
                        .map_err(|e| AppError::internal("jwt public key", e))?;
                    (key, Algorithm::RS256, None)
                }
                (None, Some(secret)) => {
                    if secret.len() < 32 {
                        return Err(AppError::internal(
                            "jwt",
                            "the HS256 secret must be at least 32 bytes",
                        ));
                    }
                    (
                        DecodingKey::from_secret(secret.as_bytes()),
                        Algorithm::HS256,
                        Some(EncodingKey::from_secret(secret.as_bytes())),
                    )
                }
                (None, None) => return Err(AppError::internal(
                    "jwt",
                    "no JWT key configured: set CONFIDE_JWT_SECRET or CONFIDE_JWT_PUBLIC_KEY_PATH",
                )),
            };
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 5;
        // A configured issuer or audience is required, not merely checked when present.
        let mut required = vec!["exp", "sub"];
        match &settings.issuer {
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
        Ok(Self {
            decoding,
            validation,
            encoding,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            max_lifetime: chrono::Duration::minutes(
                settings
                    .max_lifetime_minutes
                    .unwrap_or(DEFAULT_MAX_LIFETIME_MINUTES),
            ),
        })
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
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                tracing::info!(error = %e, "rejected token");
                AppError::Unauthenticated
            })?;
        let issued = data
            .claims
            .iat
            .unwrap_or_else(|| chrono::Utc::now().timestamp());
        if data.claims.exp - issued > self.max_lifetime.num_seconds() {
            tracing::info!(
                lifetime_s = data.claims.exp - issued,
                "rejected token: longer-lived than the configured maximum"
            );
            return Err(AppError::Unauthenticated);
        }
        let role = Role::parse(&data.claims.role).ok_or(AppError::Unauthenticated)?;
        let sub = data.claims.sub.as_str();
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

    #[test]
    fn aud_is_one_string_or_an_array() {
        let one: Audiences = serde_json::from_str("\"confide\"").unwrap();
        assert_eq!(one, Audiences::One("confide".into()));
        let many: Audiences = serde_json::from_str("[\"a\", \"confide\"]").unwrap();
        assert_eq!(many, Audiences::Many(vec!["a".into(), "confide".into()]));
    }
}
