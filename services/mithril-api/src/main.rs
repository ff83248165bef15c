//! `mithril-api [serve|migrate]`: see README.md for settings.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mithril_api::cli::run(std::env::args().skip(1).collect()).await
}
