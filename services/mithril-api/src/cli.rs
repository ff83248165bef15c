use platform::cli::ServiceCommand;
use platform::server::ServiceMain;

use crate::{Application, Settings};

const ABOUT: &str = "The mithril namespace of the eHealth authorization layer: client types, clients, connections, users, roles and approvals (admin API and public /api/clients).";

/// `serve` (default), `migrate` or `healthcheck`; `--help`, `--version`.
pub async fn run(args: Vec<std::ffi::OsString>) -> anyhow::Result<()> {
    let command = platform::cli::parse::<ServiceCommand>(
        "mithril-api",
        env!("CARGO_PKG_VERSION"),
        ABOUT,
        args,
    );
    let settings = Settings::load()?;
    let main = ServiceMain {
        name: "mithril-api",
        server: settings.server.clone(),
        telemetry: settings.telemetry.clone(),
        database: settings.database.clone(),
        migrations: mithril_store::MIGRATIONS,
        lock_key: mithril_store::MIGRATION_LOCK_KEY,
    };
    main.run(command, || async move {
        let app = Application::build(settings).await?;
        tracing::info!(port = app.port(), "mithril-api listening");
        Ok(app.run_until_stopped().await?)
    })
    .await
}
