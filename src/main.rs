// The query root is deep: computing its future's layout in release
// builds needs more than the default 128.
#![recursion_limit = "256"]

use clap::Parser;

// mimalloc: glibc malloc was ~28% of server CPU under load (BENCHMARKS.md).
// The `system-allocator` feature leaves glibc's malloc in place, for heap
// profilers that hook it (heaptrack, valgrind's dhat): bench/flamegraphs.sh.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = confide::cli::Cli::parse();
    let tracer = confide::telemetry::init(cli.otlp_endpoint())?;
    let result = confide::cli::run(cli).await;
    if let Some(tracer) = tracer {
        // Export the spans still buffered.
        if let Err(e) = tracer.shutdown() {
            eprintln!("trace export did not finish: {e}");
        }
    }
    result
}
