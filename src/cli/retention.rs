//! `confide retention report | purge | rule`: the retention schedule from the
//! command line.

use crate::service::destruction::{self, Purged};
use crate::service::retention::{self, DueEntry, Rule};
use crate::settings::DatabaseSettings;
use chrono::NaiveDate;
use clap::Subcommand;
use sea_orm::{DatabaseConnection, TransactionTrait};

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// List the students due for destruction (student id, due date, rule,
    /// reason, held or not) as of today (UTC) or `--as-of`.
    Report {
        #[command(flatten)]
        database: DatabaseSettings,
        /// The date to report as of (YYYY-MM-DD).
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Destroy every due, unheld student: one transaction per student, each
    /// leaving an audit tombstone. Safe to interrupt and re-run.
    Purge {
        #[command(flatten)]
        database: DatabaseSettings,
        /// The date to purge as of (YYYY-MM-DD).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// List what would be destroyed, and destroy nothing.
        #[arg(long)]
        dry_run: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Set a Student Support service's retention rule:
    /// `last_contact_seven_years` (seven years after the end of the academic
    /// year of last contact) or `last_enrolment_six_years` (the default).
    Rule {
        #[command(flatten)]
        database: DatabaseSettings,
        /// The service's name (as in CONFIDE_SERVICES).
        #[arg(long)]
        service: String,
        #[arg(long)]
        rule: String,
    },
}

pub(crate) async fn connect(database: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    super::connect_migrated(&database.resolved_url()).await
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The report's lines (tab-separated: student id, due date, rule, held, reason).
pub fn report_lines(entries: &[DueEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            format!(
                "{}\t{}\t{}\t{}\t{}",
                e.student_id,
                e.due_on,
                e.rule,
                if e.held { "held" } else { "-" },
                e.reason
            )
        })
        .collect()
}

/// `confide retention report`.
pub async fn report(url: &str, as_of: Option<NaiveDate>) -> anyhow::Result<Vec<DueEntry>> {
    let db = connect(&DatabaseSettings {
        url: Some(url.to_owned()),
        ..DatabaseSettings::default()
    })
    .await?;
    retention::report(&db, as_of.unwrap_or_else(today))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// What a purge did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeSummary {
    pub destroyed: u64,
    pub held: u64,
    /// No longer due, or already destroyed (by another run).
    pub skipped: u64,
    /// Records destroyed, all tables together.
    pub records: u64,
}

/// `confide retention purge`: every due, unheld student as of `as_of`, one
/// transaction each (a writer from the start: it extends the audit chain).
pub async fn purge(
    db: &DatabaseConnection,
    as_of: NaiveDate,
    dry_run: bool,
    progress: bool,
) -> anyhow::Result<PurgeSummary> {
    let due = retention::report(db, as_of)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut summary = PurgeSummary::default();
    let (held, to_destroy): (Vec<DueEntry>, Vec<DueEntry>) = due.into_iter().partition(|e| e.held);
    summary.held = held.len() as u64;
    if dry_run {
        summary.skipped = to_destroy.len() as u64;
        return Ok(summary);
    }
    let bar = if progress {
        indicatif::ProgressBar::new(to_destroy.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} destroying [{bar:40}] {pos}/{len} students ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let caller = destruction::cli_caller();
    for entry in &to_destroy {
        let txn = db
            .begin_with_options(sea_orm::TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..sea_orm::TransactionOptions::default()
            })
            .await?;
        match destruction::purge_one(&txn, &caller, entry.student_id, as_of).await {
            Ok(Purged::Destroyed(counts)) => {
                txn.commit().await?;
                summary.destroyed += 1;
                summary.records += counts.values().sum::<u64>();
            }
            Ok(Purged::Skipped(why)) => {
                txn.rollback().await?;
                if why == "held" {
                    summary.held += 1;
                } else {
                    summary.skipped += 1;
                }
            }
            Err(e) => {
                txn.rollback().await?;
                bar.abandon();
                anyhow::bail!(
                    "destroying student {} failed (nothing of theirs destroyed; {} destroyed before): {e}",
                    entry.student_id,
                    summary.destroyed
                );
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(summary)
}

pub async fn run(command: RetentionCommand) -> anyhow::Result<()> {
    match command {
        RetentionCommand::Report { database, as_of } => {
            let db = connect(&database).await?;
            let entries = retention::report(&db, as_of.unwrap_or_else(today))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("student_id\tdue_on\trule\theld\treason");
            for line in report_lines(&entries) {
                println!("{line}");
            }
            eprintln!(
                "{} due ({} held)",
                entries.len(),
                entries.iter().filter(|e| e.held).count()
            );
            Ok(())
        }
        RetentionCommand::Purge {
            database,
            as_of,
            dry_run,
            quiet,
        } => {
            let db = connect(&database).await?;
            let as_of = as_of.unwrap_or_else(today);
            if dry_run {
                let entries = retention::report(&db, as_of)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                for line in report_lines(&entries) {
                    println!("{line}");
                }
            }
            let started = std::time::Instant::now();
            let s = purge(&db, as_of, dry_run, !quiet).await?;
            let secs = started.elapsed().as_secs_f64();
            if dry_run {
                println!("dry run: {} would be destroyed, {} held", s.skipped, s.held);
            } else {
                println!(
                    "destroyed {} students ({} records) in {secs:.1}s; {} held; {} skipped (no longer due or already gone)",
                    s.destroyed, s.records, s.held, s.skipped
                );
            }
            Ok(())
        }
        RetentionCommand::Rule {
            database,
            service,
            rule,
        } => {
            let service =
                crate::domain::slug("--service", &service).map_err(|e| anyhow::anyhow!("{e}"))?;
            let parsed = Rule::parse(&rule).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown --rule {rule}: last_contact_seven_years or last_enrolment_six_years"
                )
            })?;
            let db = connect(&database).await?;
            retention::set_rule(&db, &service, parsed)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{service}: {}", parsed.as_str());
            Ok(())
        }
    }
}
