//! `gatekeeper [serve|check-routes FILE]`: see README.md for settings.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    gatekeeper::cli::run(std::env::args().skip(1).collect()).await
}
