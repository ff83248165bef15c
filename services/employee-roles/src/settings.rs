use platform::settings::{DatabaseSettings, ServerSettings, TelemetrySettings};
use serde::Deserialize;

/// Environment prefix: `EMPLOYEE_ROLES__DATABASE__URL`, `EMPLOYEE_ROLES__SERVER__PORT`, ...
pub const ENV_PREFIX: &str = "EMPLOYEE_ROLES";

const DEFAULTS: &str = r#"
[server]
host = "127.0.0.1"
port = 4030
workers = 0
body_limit = 16384
shutdown_timeout_secs = 30

[database]
url = "postgres://postgres@127.0.0.1:5432/prm"
pool_size = 16
acquire_timeout_ms = 2000
connect_timeout_ms = 5000

[telemetry]
log_filter = "info"
log_format = "json"

[roles]
require_speciality_type = false
"#;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub telemetry: TelemetrySettings,
    pub roles: RoleSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSettings {
    /// Refuse roles on healthcare services without a speciality_type (e.g. PHARMACY category)
    /// instead of skipping the speciality match for them (spec §7).
    pub require_speciality_type: bool,
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        platform::settings::load(ENV_PREFIX, DEFAULTS, &[])
    }

    /// The built-in defaults, without file or environment (tests start from these).
    pub fn defaults() -> anyhow::Result<Self> {
        platform::settings::defaults(DEFAULTS)
    }
}
