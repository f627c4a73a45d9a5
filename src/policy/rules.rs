//! The casbin enforcer over the policy file, with load-time validation.

use super::ClassSet;
use super::{Action, FieldClass, Outcome, Reason, Relation};
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

pub const MODEL: &str = include_str!("model.conf");
pub const DEFAULT_POLICY: &str = include_str!("default_policy.csv");

/// A rule's relation column: one relation, or `*` for all of them.
fn known_relation(text: &str) -> bool {
    text == "*" || Relation::parse(text).is_some()
}

/// The loaded policy. `evaluate` never fails: an error is logged and denies.
pub struct Policy {
    enforcer: Enforcer,
    /// (role, action) pairs some rule allows under some relation.
    actions: HashSet<(Role, Action)>,
    /// (role, relation) pairs some rule names (`*` names every relation).
    named: HashSet<(Role, Relation)>,
    /// The field classes allowed per (role, relation), evaluated on first use
    /// and kept while the policy is loaded (it does not change): for decisions
    /// about a whole audience rather than one record (which changes a recipient
    /// may read, for the partner feed; whether a consent would be honoured).
    allowed: HashMap<(Role, Relation), OnceLock<ClassSet>>,
    /// Each (role, relation, field class) outcome, evaluated by casbin on
    /// first use and kept while this version is loaded: the outcome is a pure
    /// function of those three (everything else about a record, consent state
    /// included, is already in the relation), and one casbin evaluation cost
    /// ~50 µs, 8 % of a dashboard request's CPU for its 10 (issue 13).
    outcomes: HashMap<(Role, Relation), [OnceLock<Outcome>; FieldClass::COUNT]>,
    /// The version's name, reported in responses and audit records: a
    /// published version's id, else `file:`/`embedded:` and a hash prefix.
    version: String,
}

impl Policy {
    /// Parses and validates policy text, then loads it into a casbin enforcer.
    /// A malformed or ambiguous policy refuses to load (the server does not start).
    pub async fn from_text(text: &str) -> AppResult<Self> {
        let rules = parse(text)?;
        for role in Role::ALL {
            if !rules.iter().any(|r| r[0] == role.as_str()) {
                return Err(AppError::internal(
                    "policy",
                    format!(
                        "role {role} has no policy lines: every role must be decided explicitly"
                    ),
                ));
            }
        }
        let actions = rules
            .iter()
            .filter(|r| r[3] == "allow")
            .filter_map(|r| Some((Role::parse(&r[0])?, Action::parse(&r[2])?)))
            .collect();
        let mut named = HashSet::new();
        for r in &rules {
            let Some(role) = Role::parse(&r[0]) else {
                continue;
            };
            match Relation::parse(&r[1]) {
                Some(rel) => {
                    named.insert((role, rel));
                }
                None => named.extend(Relation::ALL.iter().map(|rel| (role, *rel))),
            }
        }
        let model = DefaultModel::from_str(MODEL)
            .await
            .map_err(|e| AppError::internal("policy model", e))?;
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
            .await
            .map_err(|e| AppError::internal("policy enforcer", e))?;
        enforcer
            .add_policies(rules)
            .await
            .map_err(|e| AppError::internal("policy rules", e))?;
        let allowed = Role::ALL
            .iter()
            .flat_map(|role| {
                Relation::ALL
                    .iter()
                    .map(|rel| ((*role, *rel), OnceLock::new()))
            })
            .collect();
        let outcomes = Role::ALL
            .iter()
            .flat_map(|role| {
                Relation::ALL
                    .iter()
                    .map(|rel| ((*role, *rel), std::array::from_fn(|_| OnceLock::new())))
            })
            .collect();
        let hash = super::live::sha256_hex(text);
        Ok(Self {
            enforcer,
            actions,
            named,
            allowed,
            outcomes,
            version: format!("sha256:{}", hash.get(..12).unwrap_or(&hash)),
        })
    }

    /// The same policy, named `version`.
    pub fn with_version(mut self, version: String) -> Self {
        self.version = version;
        self
    }

    /// The version's name.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The field classes a caller of `role` may read under `relation`.
    pub fn allowed_classes(&self, role: Role, relation: Relation) -> ClassSet {
        let Some(cell) = self.allowed.get(&(role, relation)) else {
            return ClassSet::empty();
        };
        *cell.get_or_init(|| {
            FieldClass::ALL
                .iter()
                .copied()
                .filter(|c| self.decide(role, relation, *c).is_allow())
                .collect()
        })
    }

    /// The outcome for a field class: [`Self::evaluate`] once per (role,
    /// relation, class) while this version is loaded.
    pub fn decide(&self, role: Role, relation: Relation, class: FieldClass) -> Outcome {
        let evaluate = || self.evaluate(role, relation, class.as_str());
        match self
            .outcomes
            .get(&(role, relation))
            .and_then(|cells| cells.get(class.index()))
        {
            Some(cell) => *cell.get_or_init(evaluate),
            None => evaluate(),
        }
    }

    /// Whether some rule of the role names this relation.
    pub fn names(&self, role: Role, relation: Relation) -> bool {
        self.named.contains(&(role, relation))
    }

    /// Whether some rule allows the role this action under some relation.
    pub fn permits_somewhere(&self, role: Role, action: Action) -> bool {
        self.actions.contains(&(role, action))
    }

    /// One casbin evaluation. No match, an error or a malformed rule: deny.
    pub fn evaluate(&self, role: Role, relation: Relation, object: &str) -> Outcome {
        let relation = relation.as_str();
        match self.enforcer.enforce_ex((role.as_str(), relation, object)) {
            Ok((true, matched)) => matched
                .iter()
                .map(|rule| rule_outcome(rule))
                .reduce(Outcome::stricter)
                .unwrap_or(Outcome::Deny(Reason::RoleNotPermitted)),
            Ok((false, _)) => Outcome::Deny(Reason::RoleNotPermitted),
            Err(e) => {
                tracing::error!(error = %e, role = role.as_str(), relation, object, "policy evaluation failed; denying");
                Outcome::Deny(Reason::RoleNotPermitted)
            }
        }
    }
}

fn rule_outcome(rule: &[String]) -> Outcome {
    let reason = rule.get(4).and_then(|r| Reason::parse(r));
    match (rule.get(3).map(String::as_str), reason) {
        (Some("allow"), _) => Outcome::Allow,
        (Some("redact"), Some(r)) => Outcome::Redact(r),
        (Some("deny"), Some(r)) => Outcome::Deny(r),
        _ => Outcome::Deny(Reason::RoleNotPermitted),
    }
}

fn invalid(line: usize, message: impl std::fmt::Display) -> AppError {
    AppError::internal("policy", format!("line {line}: {message}"))
}

/// Parses the CSV form: `p, role, relation, object, outcome, reason`; `#` comments.
fn parse(text: &str) -> AppResult<Vec<Vec<String>>> {
    let mut rules: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<String> = line.split(',').map(|c| c.trim().to_owned()).collect();
        if cols.len() != 6 || cols[0] != "p" {
            return Err(invalid(
                line_no,
                "expected: p, role, relation, object, outcome, reason",
            ));
        }
        let rule = cols[1..].to_vec();
        if Role::parse(&rule[0]).is_none() {
            return Err(invalid(line_no, format!("unknown role {}", rule[0])));
        }
        if !known_relation(&rule[1]) {
            return Err(invalid(line_no, format!("unknown relation {}", rule[1])));
        }
        let is_action = Action::parse(&rule[2]).is_some();
        if FieldClass::parse(&rule[2]).is_none() && !is_action {
            return Err(invalid(line_no, format!("unknown object {}", rule[2])));
        }
        match (rule[3].as_str(), rule[4].as_str()) {
            ("allow", "-") => {}
            ("redact" | "deny", reason) if Reason::parse(reason).is_some() && !is_action => {}
            ("deny", reason) if Reason::parse(reason).is_some() => {}
            (outcome, reason) => {
                return Err(invalid(
                    line_no,
                    format!("invalid outcome/reason {outcome}/{reason}"),
                ))
            }
        }
        if let Some((other, _)) = rules.iter().find(|(_, r)| {
            r[0] == rule[0] && r[2] == rule[2] && (r[1] == rule[1] || r[1] == "*" || rule[1] == "*")
        }) {
            return Err(invalid(
                line_no,
                format!("overlaps line {other}: two rules would match the same request"),
            ));
        }
        rules.push((line_no, rule));
    }
    Ok(rules.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn default_policy_loads() {
        Policy::from_text(DEFAULT_POLICY)
            .await
            .expect("default policy");
    }

    #[tokio::test]
    async fn unmatched_request_is_denied() {
        let p = Policy::from_text(DEFAULT_POLICY).await.expect("policy");
        assert_eq!(
            p.evaluate(Role::Reception, Relation::Own, "CASE_NOTES"),
            Outcome::Deny(Reason::RoleNotPermitted)
        );
        assert_eq!(
            p.evaluate(Role::Student, Relation::Other, "IDENTITY"),
            Outcome::Deny(Reason::RoleNotPermitted)
        );
    }

    #[tokio::test]
    async fn redact_carries_its_reason() {
        let p = Policy::from_text(DEFAULT_POLICY).await.expect("policy");
        assert_eq!(
            p.evaluate(Role::Practitioner, Relation::Other, "CASE_NOTES"),
            Outcome::Redact(Reason::OutsideService)
        );
        assert_eq!(
            p.evaluate(Role::Practitioner, Relation::Own, "CASE_NOTES"),
            Outcome::Allow
        );
    }

    #[tokio::test]
    async fn wildcard_relation_applies_to_every_relation() {
        let p = Policy::from_text(DEFAULT_POLICY).await.expect("policy");
        assert_eq!(
            p.evaluate(Role::Dpo, Relation::Restricted, "CONTACT"),
            Outcome::Allow
        );
    }

    /// One allow line per role, so that a test policy loads.
    fn every_role() -> String {
        Role::ALL
            .iter()
            .map(|r| format!("p, {r}, self, CALLER, allow, -\n"))
            .collect()
    }

    #[tokio::test]
    async fn overlapping_rules_refuse_to_load() {
        let text = format!(
            "{}p, dpo, *, IDENTITY, allow, -\np, dpo, any, IDENTITY, deny, ROLE_NOT_PERMITTED\n",
            every_role()
        );
        assert!(Policy::from_text(&text).await.is_err());
        assert!(Policy::from_text(&every_role()).await.is_ok());
    }

    #[tokio::test]
    async fn a_role_with_no_policy_lines_refuses_to_load() {
        let text: String = every_role()
            .lines()
            .filter(|l| !l.contains(" analyst,"))
            .map(|l| format!("{l}\n"))
            .collect();
        let err = Policy::from_text(&text).await.err().expect("refused");
        assert!(format!("{err:?}").contains("analyst"), "{err:?}");
    }

    #[tokio::test]
    async fn unknown_role_outcome_or_reason_refuses_to_load() {
        for text in [
            "p, root, any, IDENTITY, allow, -",
            "p, dpo, any, IDENTITY, maybe, -",
            "p, dpo, any, IDENTITY, redact, BECAUSE",
            "p, dpo, any, NOT_A_CLASS, allow, -",
            "p, dpo, somewhere, IDENTITY, allow, -",
        ] {
            let text = format!("{}{text}\n", every_role());
            assert!(Policy::from_text(&text).await.is_err(), "{text}");
        }
    }
}
