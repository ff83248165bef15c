use crate::{Application, Settings};

/// `serve` (the default) or `check-routes FILE` (validate a route file and exit).
pub async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    match args.first().map(String::as_str) {
        Some("check-routes") => {
            let file = args.get(1).unwrap_or(&settings.routes.file);
            let ctx = crate::table::LoadContext {
                default_body_limit: settings.server.body_limit as u64,
            };
            let table = crate::table::RouteTable::load(file, &ctx)?;
            println!("{file}: {} routes, valid", table.routes.len());
            Ok(())
        }
        None | Some("serve") => {
            let _telemetry = platform::telemetry::init("gatekeeper", &settings.telemetry)?;
            let app = Application::build(settings).await?;
            tracing::info!(
                port = app.port(),
                ops_port = app.ops_port(),
                "gatekeeper listening"
            );
            app.run_until_stopped().await?;
            tracing::info!("gatekeeper stopped");
            Ok(())
        }
        Some(other) => {
            anyhow::bail!("unknown command {other:?}; expected `serve` or `check-routes FILE`")
        }
    }
}
