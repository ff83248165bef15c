use platform::settings::{
    AdminSettings, DatabaseSettings, IdentitySettings, ServerSettings, TelemetrySettings,
};
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
drain_secs = 0
keep_alive_secs = 5

[database]
url = "postgres://postgres@127.0.0.1:5432/prm"
pool_size = 16
acquire_timeout_ms = 2000
connect_timeout_ms = 5000
idle_timeout_secs = 60
min_connections = 4

[telemetry]
log_filter = "info"
log_format = "json"

[roles]
require_speciality_type = false
block_unverified_party_users = false
unverified_party_period_days_allowed = 60
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
    pub roles: RoleSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSettings {
    /// Refuse roles on healthcare services without a speciality_type (e.g. PHARMACY category)
    /// instead of skipping the speciality match for them (spec §7).
    pub require_speciality_type: bool,
    /// Spec §1.1 #3 (`BLOCK_UNVERIFIED_PARTY_USERS`): creating a role needs the user's party to
    /// be verified, or NOT_VERIFIED since before `current_date - unverified_party_period_days_allowed`.
    pub block_unverified_party_users: bool,
    /// `UNVERIFIED_PARTY_PERIOD_DAYS_ALLOWED`. The spec gives no default; 60 is ours.
    pub unverified_party_period_days_allowed: u32,
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
