//! `auth-token [serve|migrate|healthcheck]`: see README.md for settings.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    auth_token::cli::run(std::env::args_os().skip(1).collect()).await
}
