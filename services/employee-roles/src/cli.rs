use platform::cli::ServiceCommand;
use platform::server::ServiceMain;

use crate::{Application, Settings};

const ABOUT: &str = "Employee roles of the eHealth provider registry (PRM).";

/// `serve` (default), `migrate` or `healthcheck`; `--help`, `--version`.
pub async fn run(args: Vec<std::ffi::OsString>) -> anyhow::Result<()> {
    let command = platform::cli::parse::<ServiceCommand>(
        "employee-roles",
        env!("CARGO_PKG_VERSION"),
        ABOUT,
        args,
    );
    let settings = Settings::load()?;
    let main = ServiceMain {
        name: "employee-roles",
        server: settings.server.clone(),
        telemetry: settings.telemetry.clone(),
        database: settings.database.clone(),
        migrations: crate::MIGRATIONS,
        lock_key: crate::MIGRATION_LOCK_KEY,
    };
    main.run(command, || async move {
        let app = Application::build(settings).await?;
        tracing::info!(port = app.port(), "employee-roles listening");
        Ok(app.run_until_stopped().await?)
    })
    .await
}
