use platform::server::ServiceMain;

use crate::{Application, Settings};

/// `serve` (default) or `migrate`.
pub async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let main = ServiceMain {
        name: "employee-roles",
        telemetry: settings.telemetry.clone(),
        database: settings.database.clone(),
        migrations: crate::MIGRATIONS,
        lock_key: crate::MIGRATION_LOCK_KEY,
    };
    main.run(&args, || async move {
        let app = Application::build(settings).await?;
        tracing::info!(port = app.port(), "employee-roles listening");
        Ok(app.run_until_stopped().await?)
    })
    .await
}
