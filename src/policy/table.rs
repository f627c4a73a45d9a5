//! The decision table: the policy rendered, role by role, from
//! [`Policy::evaluate`] itself (not from the policy text), so that a snapshot of
//! it shows every policy change as a readable diff and the README's matrix is
//! generated, not copied.

use super::{Action, FieldClass, Outcome, Policy, Reason, Relation};
use crate::domain::Role;

fn reason_code(reason: Reason) -> &'static str {
    match reason {
        Reason::ConsentRequired => "CR",
        Reason::ConsentExcludesLabel => "EL",
        Reason::OutsideService => "OS",
        Reason::RoleNotPermitted => "RP",
        Reason::AccessViaSubjectAccessRequest => "SAR",
        Reason::ProcessingRestricted => "PR",
        Reason::Pseudonymised => "PS",
        Reason::AccessEnded => "AE",
    }
}

fn cell(outcome: Outcome) -> String {
    match outcome {
        Outcome::Allow => "R".to_owned(),
        Outcome::Redact(r) => format!("X {}", reason_code(r)),
        Outcome::Deny(r) => format!("D {}", reason_code(r)),
    }
}

/// The relations any rule of the role names (a `*` rule names them all).
fn relations_of(policy: &Policy, role: Role) -> Vec<Relation> {
    Relation::ALL
        .iter()
        .copied()
        .filter(|rel| policy.names(role, *rel))
        .collect()
}

/// Markdown: a legend, then per role the field classes (rows: relations the
/// role's rules name) and the actions it may take (with the relations).
pub fn render(policy: &Policy) -> String {
    let mut out = String::new();
    out.push_str("R allow; X redact; D deny (FORBIDDEN). Reasons: CR CONSENT_REQUIRED, EL CONSENT_EXCLUDES_LABEL, OS OUTSIDE_SERVICE, RP ROLE_NOT_PERMITTED, SAR ACCESS_VIA_SUBJECT_ACCESS_REQUEST, PR PROCESSING_RESTRICTED, PS PSEUDONYMISED. A relation a role's rules do not name is denied (D RP) for every class.\n");
    for role in Role::ALL {
        out.push_str(&format!("\n### {role}\n\n| relation |"));
        for class in FieldClass::ALL {
            out.push_str(&format!(" {class} |"));
        }
        out.push_str("\n|---|");
        for _ in FieldClass::ALL {
            out.push_str("---|");
        }
        out.push('\n');
        let relations = relations_of(policy, *role);
        for rel in &relations {
            let cells: Vec<String> = FieldClass::ALL
                .iter()
                .map(|class| cell(policy.evaluate(*role, *rel, class.as_str())))
                .collect();
            if cells.iter().all(|c| c == "D RP") {
                continue;
            }
            out.push_str(&format!("| {rel} | {} |\n", cells.join(" | ")));
        }
        let actions: Vec<String> = Action::ALL
            .iter()
            .filter_map(|action| {
                let allowed: Vec<&str> = relations
                    .iter()
                    .filter(|rel| policy.evaluate(*role, **rel, action.as_str()).is_allow())
                    .map(|rel| rel.as_str())
                    .collect();
                (!allowed.is_empty()).then(|| format!("{action} ({})", allowed.join(", ")))
            })
            .collect();
        out.push_str(&format!(
            "\nActions: {}\n",
            if actions.is_empty() {
                "none".to_owned()
            } else {
                actions.join("; ")
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::DEFAULT_POLICY;

    /// Every change to the shipped policy is a readable diff of this snapshot
    /// (`cargo insta review`, or `INSTA_UPDATE=always cargo test` and review the diff).
    #[tokio::test]
    async fn the_decision_table_of_the_shipped_policy() {
        let policy = Policy::from_text(DEFAULT_POLICY).await.expect("policy");
        insta::assert_snapshot!(render(&policy));
    }
}
