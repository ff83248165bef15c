//! `gatekeeper [serve|check-routes [FILE]|healthcheck]`: see README.md for settings.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The proxy and ops servers run on their own worker threads; this runtime only drives them and
// the reloader, so one thread is enough (fewer threads, less memory).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    gatekeeper::cli::run(std::env::args_os().skip(1).collect()).await
}
