//! The committed schema.graphql is the one the code generates.

use std::path::PathBuf;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema.graphql")
}

#[test]
fn schema_graphql_is_generated_from_the_code() {
    let sdl = confide::schema().sdl();
    if std::env::var("UPDATE_SCHEMA").is_ok() {
        std::fs::write(schema_path(), &sdl).unwrap();
    }
    let committed = std::fs::read_to_string(schema_path()).unwrap_or_default();
    assert!(
        committed == sdl,
        "schema.graphql is stale: run `UPDATE_SCHEMA=1 cargo test --test api schema` and commit it"
    );
}

#[test]
fn every_guarded_field_is_nullable_and_names_its_data_category() {
    let registry = confide::schema().sdl();
    let categories: Vec<&str> = confide::policy::FieldClass::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    let mut checked = 0;
    for ty in ["Student", "SupportCase", "Note", "ThirdPartyEntry"] {
        let start = registry
            .find(&format!("type {ty} {{"))
            .or_else(|| registry.find(&format!("type {ty} implements Node {{")))
            .expect("type present");
        let end = start + registry[start..].find("\n}").expect("type end");
        let body = &registry[start..end];
        let mut description = String::new();
        let mut in_description = false;
        for line in body.lines().skip(1) {
            let line = line.trim();
            if line == "\"\"\"" {
                in_description = !in_description;
                continue;
            }
            if in_description {
                description.push_str(line);
                description.push(' ');
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let name = line.split(['(', ':']).next().unwrap_or("");
            if ["id", "createdAt", "student"].contains(&name) {
                description.clear();
                continue;
            }
            assert!(
                !line.ends_with('!'),
                "{ty}.{name} is guarded and must be nullable: {line}"
            );
            assert!(
                categories
                    .iter()
                    .any(|c| description.contains(&format!("Category {c}"))),
                "{ty}.{name} must name its data category, got {description:?}"
            );
            checked += 1;
            description.clear();
        }
    }
    assert!(checked >= 30, "checked only {checked} fields");
}

const MATRIX_START: &str = "<!-- decision table: generated from the policy by `UPDATE_README=1 cargo test --test api readme`; do not edit -->";
const MATRIX_END: &str = "<!-- end of decision table -->";

/// The README's role matrix is the decision table rendered from the shipped
/// policy (the same text as the snapshot in src/policy/snapshots), never copied
/// by hand.
#[tokio::test]
async fn readme_role_matrix_is_generated_from_the_policy() {
    let policy = confide::policy::load(None).await.unwrap();
    let table = confide::policy::table::render(&policy);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme
        .find(MATRIX_START)
        .expect("README has the matrix start marker");
    let end = readme
        .find(MATRIX_END)
        .expect("README has the matrix end marker");
    let generated = format!("{MATRIX_START}\n\n{table}\n{MATRIX_END}");
    if std::env::var("UPDATE_README").is_ok() {
        let updated = format!(
            "{}{generated}{}",
            &readme[..start],
            &readme[end + MATRIX_END.len()..]
        );
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(
        readme[start..end + MATRIX_END.len()] == generated,
        "README's decision table is stale: run `UPDATE_README=1 cargo test --test api readme` and commit it"
    );
}
