// The query root is deep: computing its future's layout in release
// builds needs more than the default 128.
#![recursion_limit = "256"]

use clap::Parser;

// mimalloc: glibc malloc was ~28% of server CPU under load (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONFIDE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    confide::cli::run(confide::cli::Cli::parse()).await
}
