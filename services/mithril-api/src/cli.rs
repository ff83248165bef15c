use anyhow::bail;
use secrecy::ExposeSecret;

use crate::{Application, Settings};

/// `serve` (default) or `migrate`.
pub async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let _telemetry = platform::telemetry::init("mithril-api", &settings.telemetry)?;
    match args.first().map(String::as_str) {
        None | Some("serve") => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "mithril-api listening");
            app.run_until_stopped().await?;
            tracing::info!("mithril-api stopped");
            Ok(())
        }
        Some("migrate") => {
            platform::db::run_migrations(
                settings.database.url.expose_secret(),
                mithril_store::MIGRATIONS,
                mithril_store::MIGRATION_LOCK_KEY,
                settings.database.connect_timeout(),
            )
            .await
        }
        Some(other) => bail!("unknown command {other:?}; expected `serve` or `migrate`"),
    }
}
