use ehealth_core::ClientTypeGroups;
use platform::settings::{
    AdminSettings, DatabaseSettings, IdentitySettings, ServerSettings, TelemetrySettings,
};
use serde::Deserialize;

/// Environment prefix: `MITHRIL_API__DATABASE__URL`, `MITHRIL_API__SERVER__PORT`, ...
pub const ENV_PREFIX: &str = "MITHRIL_API";

const DEFAULTS: &str = r#"
[server]
host = "127.0.0.1"
port = 4010
workers = 0
body_limit = 65536
shutdown_timeout_secs = 30
drain_secs = 0
keep_alive_secs = 5

[database]
url = "postgres://postgres@127.0.0.1:5432/mithril"
pool_size = 16
acquire_timeout_ms = 2000
connect_timeout_ms = 5000
idle_timeout_secs = 60
min_connections = 4

[telemetry]
log_filter = "info"
log_format = "json"

[client_types]
admin = ["Mithril ADMIN", "NHS ADMIN", "NHS"]
restricted = ["MSP", "MIS", "PHARMACY", "MSP_PHARMACY"]
"#;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub telemetry: TelemetrySettings,
    /// Operator credentials for `/admin` (env `…__ADMIN__TOKENS`, comma-separated).
    #[serde(default)]
    pub admin: AdminSettings,
    /// Keys of the gatekeeper's identity signature (env `…__IDENTITY__SIGNING_KEYS`).
    #[serde(default)]
    pub identity: IdentitySettings,
    /// Which client types may address any client (seed 000's client context).
    pub client_types: ClientTypeGroups,
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        platform::settings::load(
            ENV_PREFIX,
            DEFAULTS,
            &["client_types.admin", "client_types.restricted"],
        )
    }

    /// The built-in defaults, without file or environment (tests start from these).
    pub fn defaults() -> anyhow::Result<Self> {
        platform::settings::defaults(DEFAULTS)
    }
}
