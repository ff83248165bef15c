use clap::Subcommand;

use crate::{Application, Settings};

const ABOUT: &str = "The eHealth gateway: the only public entry. Token, scope and ABAC checks, \
signed identity headers, rate limits, forwarding.";

#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
enum Command {
    /// Serve the proxy and ops ports until SIGTERM or SIGINT (the default).
    Serve,
    /// Validate a route file and exit (default: the configured one).
    CheckRoutes { file: Option<String> },
    /// Exit 0 when this gatekeeper, as configured, answers 200 on its ops port's /ready.
    Healthcheck,
}

/// `serve` (the default), `check-routes [FILE]` or `healthcheck`; `--help`, `--version`.
pub async fn run(args: Vec<std::ffi::OsString>) -> anyhow::Result<()> {
    let command =
        platform::cli::parse::<Command>("gatekeeper", env!("CARGO_PKG_VERSION"), ABOUT, args)
            .unwrap_or(Command::Serve);
    let settings = Settings::load()?;
    match command {
        Command::CheckRoutes { file } => {
            let file = file.unwrap_or_else(|| settings.routes.file.clone());
            let ctx = crate::table::LoadContext {
                default_body_limit: settings.server.body_limit as u64,
            };
            let table = crate::table::RouteTable::load(&file, &ctx)?;
            println!("{file}: {} routes, valid", table.routes.len());
            Ok(())
        }
        Command::Healthcheck => {
            platform::cli::probe(&settings.ops.host, settings.ops.port, "/ready")
        }
        Command::Serve => {
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
    }
}
