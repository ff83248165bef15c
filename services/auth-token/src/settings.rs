use platform::settings::{
    AdminSettings, DatabaseSettings, IdentitySettings, ServerSettings, TelemetrySettings,
};
use serde::Deserialize;
use uuid::Uuid;

/// Environment prefix: `AUTH_TOKEN__DATABASE__URL`, `AUTH_TOKEN__TOKENS__ACCESS_TTL_SECS`, ...
pub const ENV_PREFIX: &str = "AUTH_TOKEN";

const DEFAULTS: &str = r#"
[server]
host = "127.0.0.1"
port = 4020
workers = 0
body_limit = 16384
shutdown_timeout_secs = 30
drain_secs = 0
keep_alive_secs = 5

[database]
url = "postgres://postgres@127.0.0.1:5432/mithril"
pool_size = 32
acquire_timeout_ms = 2000
connect_timeout_ms = 5000
idle_timeout_secs = 60
min_connections = 8

[telemetry]
log_filter = "info"
log_format = "json"

[tokens]
access_ttl_secs = 2592000
refresh_ttl_secs = 604800
code_ttl_secs = 300

[login]
max_failed_logins = 10
failed_logins_period_secs = 600
password_expiration_days = 90

[authorize]
trusted_client_ids = ["30074b6e-fbab-4dc1-9d37-88c21dab1847"]

[otp]
ttl_secs = 300
max_attempts = 3
send_limit = 3
send_period_secs = 60
user_error_max = 3

[sms]
url = ""
timeout_ms = 3000

[sign_in]
ttl_secs = 900
secure_cookie = true

[oauth]
issuer = "http://127.0.0.1:4000"

[cleanup]
enabled = true
interval_secs = 3600
retention_days = 30
batch_size = 500
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
    pub tokens: TokenSettings,
    pub login: LoginSettings,
    pub authorize: AuthorizeSettings,
    pub cleanup: CleanupSettings,
    pub otp: OtpSettings,
    pub sms: SmsSettings,
    pub sign_in: SignInSettings,
    pub oauth: OAuthSettings,
    /// The gatekeeper's credential for the verify endpoints.
    #[serde(default)]
    pub service: ServiceSettings,
}

/// Service credentials (env `AUTH_TOKEN__SERVICE__TOKENS`, comma-separated): accepted on
/// `GET /admin/tokens/{token}/verify` and `GET /admin/api_keys/verify` only, so the gatekeeper's
/// own credential cannot administer anything. Kept only as SHA-256.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    #[serde(default)]
    pub tokens: Vec<secrecy::SecretString>,
}

/// Lifetimes (the reference's `AUTH_*_LIFETIME`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub code_ttl_secs: i64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSettings {
    /// Failed passwords within the period that lock login out (the user is not blocked).
    pub max_failed_logins: i64,
    pub failed_logins_period_secs: i64,
    pub password_expiration_days: i64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeSettings {
    /// Clients whose authorize requests without a scope get all of the user's role scopes.
    pub trusted_client_ids: Vec<Uuid>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupSettings {
    pub enabled: bool,
    pub interval_secs: u64,
    /// Tokens expired for longer than this are deleted.
    pub retention_days: i64,
    pub batch_size: i64,
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        platform::settings::load(
            ENV_PREFIX,
            DEFAULTS,
            &["authorize.trusted_client_ids", "service.tokens"],
        )
    }

    /// The built-in defaults, without file or environment (tests start from these).
    pub fn defaults() -> anyhow::Result<Self> {
        platform::settings::defaults(DEFAULTS)
    }
}

/// Two-factor login (the reference's `OTP_*` and `USER_OTP_ERROR_MAX`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpSettings {
    /// How long a code can be used.
    pub ttl_secs: i64,
    /// Guesses per code.
    pub max_attempts: i32,
    /// Codes sent to one user per period, at most (more: 429 `otp_timeout`).
    pub send_limit: i64,
    pub send_period_secs: i64,
    /// Consecutive wrong codes that block the user.
    pub user_error_max: i32,
}

/// The SMS provider: `POST {url}/sms/send` with `{phone_number, body, type: "2FA"}` (the
/// reference's `OTP_ENDPOINT`). Empty: no provider, and a login that needs a code answers 503.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    pub url: String,
    pub timeout_ms: u64,
}

/// The browser sign-in pages.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInSettings {
    /// How long a sign-in may take, from the first page to the last.
    pub ttl_secs: i64,
    /// The session cookie's `Secure` flag: off only for plain-http local runs (`make run`).
    pub secure_cookie: bool,
}

/// Standard OAuth 2 (`/oauth/authorize`, `/oauth/token`, ...).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    /// The issuer (RFC 8414): the gateway's public URL, as clients reach it. The metadata names
    /// every endpoint under it, and redirects carry it as `iss` (RFC 9207).
    pub issuer: String,
}

impl OAuthSettings {
    /// The issuer without a trailing slash; an `http(s)` URL without query or fragment.
    pub fn issuer(&self) -> anyhow::Result<String> {
        let url = url::Url::parse(&self.issuer)
            .map_err(|e| anyhow::anyhow!("oauth.issuer {:?}: {e}", self.issuer))?;
        if !matches!(url.scheme(), "https" | "http")
            || url.query().is_some()
            || url.fragment().is_some()
        {
            anyhow::bail!(
                "oauth.issuer {:?}: an http(s) URL without query or fragment",
                self.issuer
            );
        }
        Ok(self.issuer.trim_end_matches('/').to_owned())
    }
}
