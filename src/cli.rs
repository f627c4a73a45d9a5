//! The command line: `serve`, `token`, `seed`, `migrate`, `admin create`,
//! `audit verify`, `retention report | purge | rule`, `export-sar`,
//! `research-extract`, `research-reidentify`, `policy publish | list`,
//! `operations add | list`.

pub mod operations;
pub mod retention;

use crate::auth::Authenticator;
use crate::domain::Role;
use crate::settings::{DatabaseSettings, JwtSettings, Settings};
use crate::startup::Application;
use clap::{Parser, Subcommand};
use rand::distr::{Alphanumeric, SampleString};

#[derive(Parser, Debug)]
#[command(
    name = "confide",
    version,
    about = "Confide: a privacy-guarded GraphQL API over student support records"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Where `serve` exports its spans (OTLP), if configured.
    pub fn otlp_endpoint(&self) -> Option<&str> {
        match &self.command {
            Command::Serve { settings, .. } => settings.edge.otlp_endpoint.as_deref(),
            _ => None,
        }
    }
}

#[derive(Subcommand, Debug)]
// Parsed once at start: the size of the `serve` variant (its settings) does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the HTTP server.
    Serve {
        #[command(flatten)]
        settings: Settings,
        /// Seed demo data and print a development token for each role. Without a
        /// configured JWT secret, a random one is generated for this run.
        #[arg(long, env = "CONFIDE_DEMO")]
        demo: bool,
    },
    /// Print a development token signed with the configured HS256 secret.
    Token {
        #[command(flatten)]
        jwt: JwtSettings,
        /// The id of the staff member, student or partner organisation.
        #[arg(long)]
        sub: uuid::Uuid,
        /// The role (student, practitioner, service_lead, reception, analyst,
        /// it_support, dpo, department, university_service, partner, admin).
        #[arg(long)]
        role: String,
        /// Lifetime, e.g. 30m, 1h, 2d.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
    /// Generate a deterministic population (benchmarks, load tests) into an empty database.
    Seed {
        #[command(flatten)]
        database: DatabaseSettings,
        /// Number of students (about 5 cases each, about 4 notes per case).
        #[arg(long, default_value_t = 10_000)]
        students: usize,
        /// Random seed: the same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// The directory's administrators.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Policy versions stored in the database: the one with the highest id is
    /// served by every instance within `--policy-poll-secs` of its publication.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The retention schedule: what is due for destruction, the purge, and
    /// the services' rules.
    Retention {
        #[command(subcommand)]
        command: retention::RetentionCommand,
    },
    /// Registered (persisted) operations: the only documents departments,
    /// university services and partners may run.
    Operations {
        #[command(subcommand)]
        command: operations::OperationsCommand,
    },
    /// Produce the export of a subject access request (`confide-sar/1` JSON),
    /// as the API's `subjectAccessExport` does, audited as an export by the
    /// actor `cli` (acting as the DPO): the document fixed at finalisation, or
    /// a draft before it.
    ExportSar {
        #[command(flatten)]
        database: DatabaseSettings,
        /// The subject access request's id.
        #[arg(long)]
        request: uuid::Uuid,
        /// Write the document here (default: standard output).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Casbin policy file (CSV); the embedded default policy when unset.
        #[arg(long, env = "CONFIDE_POLICY_PATH")]
        policy_path: Option<std::path::PathBuf>,
    },
    /// Produce a research extract (pseudonymised, k-anonymised; see the
    /// README), as the API's `researchExtract` does, audited as the actor
    /// `cli` acting as an analyst. Writes CSV or JSON Lines.
    ResearchExtract {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        research: crate::settings::ResearchSettings,
        /// Write the rows here.
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long, value_enum, default_value = "csv")]
        format: crate::research::output::Format,
        /// Raise k for this extract (never below --research-k).
        #[arg(long)]
        k: Option<i64>,
        /// Casbin policy file (CSV); the embedded default policy when unset.
        #[arg(long, env = "CONFIDE_POLICY_PATH")]
        policy_path: Option<std::path::PathBuf>,
    },
    /// The DPO: the student behind a research pseudonym, found by recomputing
    /// the pseudonyms of the extract with the key (`--pseudonym-key`, which
    /// must be the key the extract was made with). Audited with the reason,
    /// found or not. Prints the student's id, or exits 1.
    ResearchReidentify {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        research: crate::settings::ResearchSettings,
        /// The extract's id.
        #[arg(long)]
        extract: uuid::Uuid,
        #[arg(long)]
        pseudonym: String,
        /// Why (recorded in the audit trail).
        #[arg(long)]
        reason: String,
        /// Casbin policy file (CSV); the embedded default policy when unset.
        #[arg(long, env = "CONFIDE_POLICY_PATH")]
        policy_path: Option<std::path::PathBuf>,
    },
}

/// The CLI's actor: the nil id, named `cli`, acting in `role`.
fn cli_actor(role: Role) -> crate::auth::Caller {
    crate::auth::Caller {
        id: uuid::Uuid::nil(),
        role,
        name: "cli".to_owned(),
        service: None,
        department: None,
        unit: None,
        registered_mhp: false,
    }
}

/// `confide export-sar`: the export of a request as the document's JSON
/// value, produced by the same function as the API's, read under the policy as
/// the DPO and audited (one `export` record by the actor `cli`).
pub async fn export_sar(
    db: &sea_orm::DatabaseConnection,
    policy: std::sync::Arc<crate::policy::Policy>,
    request: uuid::Uuid,
) -> anyhow::Result<serde_json::Value> {
    use sea_orm::TransactionTrait;
    let decisions =
        crate::policy::Decisions::new(std::sync::Arc::new(cli_actor(Role::Dpo)), policy)
            .for_request(uuid::Uuid::new_v4());
    // A writer from the start (SQLite: `BEGIN IMMEDIATE`): its audit record
    // extends the chain.
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..sea_orm::TransactionOptions::default()
        })
        .await?;
    let (_, document) = crate::service::sar::export(&txn, &decisions, request)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    txn.commit().await?;
    Ok(document)
}

/// `confide research-extract`: a new extract, made by the same function as
/// the API's, decided under the policy as an analyst and audited (one
/// `research_extract` record by the actor `cli`), written to `out`.
pub async fn research_extract(
    db: &sea_orm::DatabaseConnection,
    policy: std::sync::Arc<crate::policy::Policy>,
    config: &crate::research::Config,
    k: Option<i64>,
    out: &std::path::Path,
    format: crate::research::output::Format,
) -> anyhow::Result<crate::research::extract::Extract> {
    use sea_orm::TransactionTrait;
    let decisions =
        crate::policy::Decisions::new(std::sync::Arc::new(cli_actor(Role::Analyst)), policy)
            .for_request(uuid::Uuid::new_v4());
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..sea_orm::TransactionOptions::default()
        })
        .await?;
    let extract = crate::research::extract::create(&txn, &decisions, config, k)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // The file first (an extract that could not be written is not recorded),
    // then the records; if they cannot be stored, the file is removed: no
    // release without its audit record.
    let file = std::fs::File::create(out)?;
    crate::research::output::write(file, format, &extract.rows)?;
    if let Err(e) = txn.commit().await {
        let _ = std::fs::remove_file(out);
        return Err(e.into());
    }
    Ok(extract)
}

/// `confide research-reidentify`: the student behind a pseudonym of an
/// extract, as the DPO (actor `cli`), audited.
pub async fn research_reidentify(
    db: &sea_orm::DatabaseConnection,
    policy: std::sync::Arc<crate::policy::Policy>,
    config: &crate::research::Config,
    extract: uuid::Uuid,
    pseudonym: &str,
    reason: &str,
) -> anyhow::Result<Option<uuid::Uuid>> {
    use sea_orm::TransactionTrait;
    let decisions =
        crate::policy::Decisions::new(std::sync::Arc::new(cli_actor(Role::Dpo)), policy)
            .for_request(uuid::Uuid::new_v4());
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..sea_orm::TransactionOptions::default()
        })
        .await?;
    let found = crate::research::reidentify::reidentify(
        &txn, &decisions, config, extract, pseudonym, reason,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    txn.commit().await?;
    Ok(found)
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Publish a policy file as the next version. A policy that does not load
    /// is refused (exit 1) and nothing is stored. Prints the version's id.
    Publish {
        #[command(flatten)]
        database: DatabaseSettings,
        /// The policy file (CSV, as `--policy-path`).
        file: std::path::PathBuf,
        /// Who publishes it (recorded with the version; default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Why (recorded with the version).
        #[arg(long)]
        comment: Option<String>,
    },
    /// List the published versions, newest (the one served) first.
    List {
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

/// `confide policy publish`: applies the migrations (the table may be new),
/// then stores the file as the next version if it loads.
pub async fn publish_policy(
    url: &str,
    file: &std::path::Path,
    by: Option<&str>,
    comment: Option<&str>,
) -> anyhow::Result<crate::policy::live::Published> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let db = connect_migrated(url).await?;
    let by = by
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".to_owned());
    crate::policy::live::publish(&db, &text, &by, comment)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Walk the audit trail's hash chain, recomputing every hash: prints
    /// "audit chain verified: N records" (exit 0) or the first broken link
    /// (exit 1).
    Verify {
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

/// `confide audit verify`: the verification, and the line to print.
pub async fn verify_audit(url: &str) -> anyhow::Result<(bool, String)> {
    let db = crate::db::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let verification = crate::service::audit::verify(&db)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(match verification {
        crate::service::audit::Verification::Verified { records } => {
            (true, format!("audit chain verified: {records} records"))
        }
        crate::service::audit::Verification::Broken(link) => {
            (false, format!("audit chain broken at {link}"))
        }
    })
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an administrator (the first one: later ones can also be created
    /// with `createStaff`). Applies the migrations first; prints the new id.
    Create {
        #[command(flatten)]
        database: DatabaseSettings,
        /// Their name.
        #[arg(long)]
        name: String,
        /// Their email (unique among staff).
        #[arg(long)]
        email: String,
    },
}

/// `confide admin create`: migrates the database at `url`, then creates an
/// active administrator (audited with basis `cli`) and returns their id.
pub async fn create_admin(url: &str, name: &str, email: &str) -> anyhow::Result<uuid::Uuid> {
    use sea_orm::TransactionTrait;
    let name =
        crate::domain::required_text("--name", name, 200).map_err(|e| anyhow::anyhow!("{e}"))?;
    let email = crate::domain::email("--email", email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = connect_migrated(url).await?;
    // A writer from the start (SQLite: `BEGIN IMMEDIATE`): it extends the
    // audit chain.
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..sea_orm::TransactionOptions::default()
        })
        .await?;
    let admin = crate::service::directory::create_first_admin(&txn, name, email)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    txn.commit().await?;
    Ok(admin.id)
}

fn parse_ttl(text: &str) -> anyhow::Result<chrono::Duration> {
    let (n, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid --ttl {text}: use e.g. 30m, 1h, 2d"))?;
    match unit {
        "s" => Ok(chrono::Duration::seconds(n)),
        "m" => Ok(chrono::Duration::minutes(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "d" => Ok(chrono::Duration::days(n)),
        _ => anyhow::bail!("invalid --ttl {text}: use e.g. 30m, 1h, 2d"),
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { mut settings, demo } => {
            if demo && settings.jwt.secret.is_none() && settings.jwt.public_key_path.is_none() {
                settings.jwt.secret = Some(Alphanumeric.sample_string(&mut rand::rng(), 48));
            }
            if demo {
                settings.graphiql = true;
            }
            let app = Application::build(settings.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if demo {
                app.seed_demo_data()
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                if settings.jwt.public_key_path.is_some() {
                    println!(
                        "Demo data ready. No development tokens: with an RS256 public key \
                         (CONFIDE_JWT_PUBLIC_KEY_PATH) tokens come from your identity provider, \
                         with `sub` = a demo id and `role` = its role (see src/demo.rs)."
                    );
                } else {
                    println!("Demo data ready. Development tokens (valid 8 hours):");
                    for (label, token) in app.demo_tokens().map_err(|e| anyhow::anyhow!("{e}"))? {
                        println!("  {label}:\n    {token}");
                    }
                }
            }
            println!(
                "Confide listening on http://{}:{} (GraphiQL at /graphql)",
                settings
                    .bind
                    .rsplit_once(':')
                    .map(|(h, _)| h)
                    .unwrap_or("127.0.0.1"),
                app.port()
            );
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::Token {
            jwt,
            sub,
            role,
            ttl,
        } => {
            let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("unknown role {role}"))?;
            let auth = Authenticator::from_settings(&jwt).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let token = auth
                .issue(sub, role, parse_ttl(&ttl)?)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("{token}");
            Ok(())
        }
        Command::Seed {
            database,
            students,
            seed,
        } => {
            let db = connect_migrated(&database.resolved_url()).await?;
            let started = std::time::Instant::now();
            let summary = crate::seed::run(
                &db,
                crate::seed::SeedOptions {
                    students,
                    seed,
                    cases_per_student: 5,
                    notes_per_case: 4,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "seeded in {:.1}s: {} students, {} cases, {} notes, {} consents, {} risk exceptions, {} third-party entries, {} staff, {} partners",
                started.elapsed().as_secs_f64(),
                summary.students,
                summary.cases,
                summary.notes,
                summary.consents,
                summary.risk_exceptions,
                summary.third_party_entries,
                summary.staff,
                summary.partners
            );
            for (service, id) in &summary.practitioner_by_service {
                println!("practitioner ({service}): {id}");
            }
            if let Some(p) = summary.partner_with_consents {
                println!("partner (most consents): {p}");
            }
            Ok(())
        }
        Command::Migrate { database } => {
            connect_migrated(&database.resolved_url()).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    database,
                    name,
                    email,
                },
        } => {
            let id = create_admin(&database.resolved_url(), &name, &email).await?;
            println!("{id}");
            Ok(())
        }
        Command::ExportSar {
            database,
            request,
            out,
            policy_path,
        } => {
            let db = crate::db::connect(&database.resolved_url())
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let policy = crate::policy::current(&db, policy_path.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let document = export_sar(&db, policy, request).await?;
            let text = serde_json::to_string_pretty(&document)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, format!("{text}\n"))?;
                    eprintln!("subject access export written to {}", path.display());
                }
                None => println!("{text}"),
            }
            Ok(())
        }
        Command::ResearchExtract {
            database,
            research,
            out,
            format,
            k,
            policy_path,
        } => {
            let db = crate::db::connect(&database.resolved_url())
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let policy = crate::policy::current(&db, policy_path.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let config = crate::research::Config::from_settings(&research)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let e = research_extract(&db, policy, &config, k, &out, format).await?;
            eprintln!(
                "research extract {} written to {}: {} rows, {} students, k = {}, {} rows suppressed",
                e.id,
                out.display(),
                e.rows.len(),
                e.students,
                e.k,
                e.suppressed_rows
            );
            Ok(())
        }
        Command::ResearchReidentify {
            database,
            research,
            extract,
            pseudonym,
            reason,
            policy_path,
        } => {
            if research.pseudonym_key.is_none() {
                anyhow::bail!(
                    "re-identification needs the key the extract was made with \
                     (--pseudonym-key / CONFIDE_PSEUDONYM_KEY)"
                );
            }
            let db = crate::db::connect(&database.resolved_url())
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let policy = crate::policy::current(&db, policy_path.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let config = crate::research::Config::from_settings(&research)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            match research_reidentify(&db, policy, &config, extract, &pseudonym, &reason).await? {
                Some(student) => {
                    println!("{student}");
                    Ok(())
                }
                None => {
                    eprintln!("no student on file has this pseudonym in this extract");
                    std::process::exit(1);
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { database },
        } => {
            let (verified, line) = verify_audit(&database.resolved_url()).await?;
            println!("{line}");
            if !verified {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Retention { command } => retention::run(command).await,
        Command::Policy {
            command:
                PolicyCommand::Publish {
                    database,
                    file,
                    by,
                    comment,
                },
        } => {
            let published = publish_policy(
                &database.resolved_url(),
                &file,
                by.as_deref(),
                comment.as_deref(),
            )
            .await?;
            println!("{}", published.id);
            eprintln!(
                "policy version {} published (sha256 {}); instances serve it within their poll interval (--policy-poll-secs) or at once on SIGHUP",
                published.id, published.sha256
            );
            Ok(())
        }
        Command::Policy {
            command: PolicyCommand::List { database },
        } => {
            let db = crate::db::connect(&database.resolved_url())
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let versions = crate::policy::live::list(&db)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if versions.is_empty() {
                println!("no policy version published: instances serve --policy-path or the embedded default");
            }
            for v in versions {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    v.id,
                    v.published_at.to_rfc3339(),
                    v.sha256,
                    v.published_by,
                    v.comment.unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Operations { command } => operations::run(command).await,
    }
}

/// Connects to the database and applies every pending migration.
pub(crate) async fn connect_migrated(url: &str) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let db = crate::db::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    crate::db::migrate(&db)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(db)
}
