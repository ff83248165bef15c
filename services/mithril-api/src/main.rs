//! `mithril-api [serve|migrate]`: see README.md for settings.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mithril_api::cli::run(std::env::args().skip(1).collect()).await
}
