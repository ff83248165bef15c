//! `auth-token [serve|migrate]`: see README.md for settings.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    auth_token::cli::run(std::env::args().skip(1).collect()).await
}
