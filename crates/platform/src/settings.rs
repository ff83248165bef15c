//! Settings: built-in defaults (TOML compiled into each service) < an optional file named by
//! `<PREFIX>_CONFIG` < environment variables `<PREFIX>__SECTION__KEY` (e.g.
//! `MITHRIL_API__DATABASE__URL`). Secrets come only from the file or the environment and are
//! `SecretString`s, which never print.

use std::time::Duration;

use anyhow::Context;
use config::{Config, Environment, File, FileFormat};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Keys every service reads as comma-separated lists from the environment.
const SHARED_LIST_KEYS: [&str; 3] = [
    "admin.tokens",
    "admin.token_sha256",
    "identity.signing_keys",
];

/// Loads `T`. `list_keys` are keys whose environment values are comma-separated lists (besides
/// the shared `admin.*` and `identity.*` lists).
pub fn load<T: DeserializeOwned>(
    env_prefix: &str,
    defaults_toml: &str,
    list_keys: &[&str],
) -> anyhow::Result<T> {
    let mut builder = Config::builder().add_source(File::from_str(defaults_toml, FileFormat::Toml));
    let file_var = format!("{env_prefix}_CONFIG");
    if let Ok(path) = std::env::var(&file_var) {
        builder = builder.add_source(File::with_name(&path).required(true));
    }
    let mut env = Environment::with_prefix(env_prefix)
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true);
    env = env.list_separator(",");
    for key in SHARED_LIST_KEYS.iter().chain(list_keys) {
        env = env.with_list_parse_key(key);
    }
    builder
        .add_source(env)
        .build()
        .context("reading settings")?
        .try_deserialize()
        .context("settings are invalid")
}

/// The built-in defaults alone, without file or environment (tests start from these).
pub fn defaults<T: DeserializeOwned>(defaults_toml: &str) -> anyhow::Result<T> {
    Config::builder()
        .add_source(File::from_str(defaults_toml, FileFormat::Toml))
        .build()
        .context("reading the built-in defaults")?
        .try_deserialize()
        .context("the built-in defaults are invalid")
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// How long in-flight requests may finish after SIGTERM/SIGINT (after the drain).
    pub shutdown_timeout_secs: u64,
    /// After SIGTERM/SIGINT, how long the server goes on serving while `/ready` answers 503
    /// before it stops accepting ([`crate::shutdown`]): the time its balancer needs to notice.
    pub drain_secs: u64,
    /// How long an idle keep-alive connection stays open between requests. Whatever reuses
    /// connections to this server must give them up sooner (the gatekeeper: after
    /// `forwarding.upstream_idle_ms`, 4 s): otherwise the server may close one just as a request
    /// goes out on it, and a request that cannot be sent again (a POST) fails. Not much longer
    /// than needed: actix's graceful stop waits for idle connections too.
    pub keep_alive_secs: u64,
}

impl ServerSettings {
    pub fn drain(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.drain_secs)
    }

    pub fn keep_alive(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.keep_alive_secs.max(1))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub pool_size: usize,
    /// How long a request waits for a pooled connection before a 503.
    pub acquire_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Connections per worker that single-statement reads share, pipelined (0: reads take a
    /// pooled connection like everything else). See `db::Reads`.
    #[serde(default = "default_read_connections")]
    pub read_connections: usize,
    /// A pooled connection unused this long is closed (checked every half of it; 0: never), so
    /// that the connections a burst opened do not stay for the process's life.
    pub idle_timeout_secs: u64,
    /// Pooled connections kept open however idle, opened at start (split between the workers,
    /// like `pool_size`). See `db::PoolFactory::per_worker`.
    pub min_connections: usize,
}

fn default_read_connections() -> usize {
    1
}

impl DatabaseSettings {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
    /// None: idle connections are never closed.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_secs > 0).then(|| Duration::from_secs(self.idle_timeout_secs))
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// An `EnvFilter` directive, e.g. `info,actix_web=warn`. `RUST_LOG` overrides it.
    pub log_filter: String,
    pub log_format: LogFormat,
    /// OTLP/HTTP endpoint (e.g. `http://collector:4318/v1/traces`); traces are exported only when set.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// The share of traces recorded when the caller did not decide (parent-based: a caller's
    /// sampled or unsampled `traceparent` is followed). 0.0–1.0.
    #[serde(default = "all_traces")]
    pub sample_ratio: f64,
}

fn all_traces() -> f64 {
    1.0
}

/// Operator credentials for the internal APIs (`/admin`, the gatekeeper's ops endpoints): bearer
/// tokens, two at once during a rotation. Only their SHA-256 is kept once loaded
/// ([`crate::admin::Credentials`]). Nothing configured: the internal APIs are open, as the
/// reference's are (tests of one service; every deployment this project ships configures them).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// The tokens themselves (env `<PREFIX>__ADMIN__TOKENS`, comma-separated).
    #[serde(default)]
    pub tokens: Vec<SecretString>,
    /// Or their SHA-256 as 64 hex digits, for a Secret that should not hold the tokens.
    #[serde(default)]
    pub token_sha256: Vec<String>,
}

/// The keys of the gatekeeper's identity signature ([`ehealth_core::identity_signature`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// At least 32 bytes each; comma-separated in the environment. The gatekeeper signs with
    /// the first; services accept any (old and new during a rotation). Empty: services believe
    /// identity headers unsigned, and the gatekeeper signs nothing.
    #[serde(default)]
    pub signing_keys: Vec<SecretString>,
    /// How old (or how far ahead) a signature's time may be, in seconds.
    #[serde(default = "default_signature_max_age")]
    pub max_age_secs: u64,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            signing_keys: Vec::new(),
            max_age_secs: default_signature_max_age(),
        }
    }
}

fn default_signature_max_age() -> u64 {
    30
}

impl IdentitySettings {
    pub fn signing_keys(
        &self,
    ) -> anyhow::Result<Vec<ehealth_core::identity_signature::SigningKey>> {
        use secrecy::ExposeSecret;
        self.signing_keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                ehealth_core::identity_signature::SigningKey::new(k.expose_secret().as_bytes())
                    .with_context(|| format!("identity.signing_keys[{i}]"))
            })
            .collect()
    }

    pub fn verifier(&self) -> anyhow::Result<ehealth_core::identity_signature::SignatureVerifier> {
        Ok(ehealth_core::identity_signature::SignatureVerifier::new(
            self.signing_keys()?,
            i64::try_from(self.max_age_secs).context("identity.max_age_secs")?,
        ))
    }
}
