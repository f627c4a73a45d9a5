//! `confide operations add FILE | list`: the registered (persisted) operations
//! departments, university services and partners may run.

use crate::settings::DatabaseSettings;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum OperationsCommand {
    /// Register the GraphQL document in FILE (one operation): checked against
    /// the schema, stored by the SHA-256 of its text with the field classes it
    /// can return. Prints the hash clients send as
    /// `extensions.persistedQuery.sha256Hash`.
    Add {
        #[command(flatten)]
        database: DatabaseSettings,
        /// The document's file.
        file: std::path::PathBuf,
        /// The name the DPO sees (which integration this is); default: the
        /// operation's own name.
        #[arg(long)]
        name: Option<String>,
    },
    /// List the registered operations (hash, name, data categories, field
    /// classes, when), newest first: what each outside integration reads.
    List {
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

pub async fn run(command: OperationsCommand) -> anyhow::Result<()> {
    match command {
        OperationsCommand::Add {
            database,
            file,
            name,
        } => {
            let document = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let db = super::retention::connect(&database).await?;
            let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
            let op = crate::service::operations::register_named(
                &db,
                &document,
                name.as_deref(),
                &format!("cli:{user}"),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            println!("{}", op.sha256);
            eprintln!(
                "registered {} ({}): {}",
                op.name.as_deref().unwrap_or("(anonymous)"),
                op.sha256,
                describe(&op.field_classes)
            );
            Ok(())
        }
        OperationsCommand::List { database } => {
            let db = super::retention::connect(&database).await?;
            let ops = crate::service::operations::list(&db)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("sha256\tname\tdata categories\tfield classes\tregistered at\tregistered by");
            for op in ops {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    op.sha256,
                    op.name.as_deref().unwrap_or("-"),
                    categories(&op.field_classes).join(","),
                    op.field_classes,
                    op.registered_at.to_rfc3339(),
                    op.registered_by,
                );
            }
            Ok(())
        }
    }
}

fn categories(stored: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = crate::graphql::operations::classes_of(stored)
        .into_iter()
        .filter_map(|c| c.category())
        .map(|c| c.as_str())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn describe(stored: &str) -> String {
    format!(
        "data categories [{}], field classes [{}]",
        categories(stored).join(", "),
        stored
    )
}
