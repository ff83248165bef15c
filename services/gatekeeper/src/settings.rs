use std::time::Duration;

use platform::settings::{AdminSettings, IdentitySettings, ServerSettings, TelemetrySettings};
use secrecy::SecretString;
use serde::Deserialize;

/// Environment prefix: `GATEKEEPER__VERIFY__URL`, `GATEKEEPER__ROUTES__FILE`, ...
pub const ENV_PREFIX: &str = "GATEKEEPER";

const DEFAULTS: &str = r#"
[server]
host = "127.0.0.1"
port = 4000
workers = 0
body_limit = 1048576
shutdown_timeout_secs = 30
drain_secs = 0
keep_alive_secs = 75

[forwarding]
trusted_proxies = []
own_http1 = true
upstream_idle_ms = 4000

[tls]
cert_file = ""
key_file = ""

[ops]
host = "127.0.0.1"
port = 4001

[routes]
file = "deploy/config/gatekeeper.yaml"
watch_interval_ms = 1000

[verify]
url = "http://127.0.0.1:4020"
timeout_ms = 2000
cache_ttl_secs = 60
negative_ttl_secs = 5
cache_capacity = 100000

[abac]
timeout_ms = 1000

[revocations]
heartbeat_ms = 5000

[limits]
body_timeout_ms = 10000
connections_per_worker = 10000
connections_per_client = 512
verify_misses_per_client = 600

[dependencies]
compat_statuses = false
retry_after_secs = 1

[rate_limit]
redis_timeout_ms = 50
redis_retry_secs = 1

[telemetry]
log_filter = "info"
log_format = "json"
"#;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The proxy listener. `body_limit` is the default for routes without `max_body_bytes`.
    pub server: ServerSettings,
    /// TLS on the proxy port (both files set), else plain HTTP.
    pub tls: TlsSettings,
    pub forwarding: ForwardingSettings,
    pub ops: OpsSettings,
    pub routes: RoutesSettings,
    pub verify: VerifySettings,
    pub abac: AbacSettings,
    pub revocations: RevocationSettings,
    pub limits: LimitSettings,
    pub dependencies: DependencySettings,
    pub rate_limit: RateLimitSettings,
    pub telemetry: TelemetrySettings,
    /// Operator credentials for the ops port's `/cache/purge`, `/explain`, `/routes` and
    /// `/routes/reload` (env `GATEKEEPER__ADMIN__TOKENS`).
    #[serde(default)]
    pub admin: AdminSettings,
    /// The identity signature's keys: the first signs what is sent upstream
    /// (env `GATEKEEPER__IDENTITY__SIGNING_KEYS`).
    #[serde(default)]
    pub identity: IdentitySettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM: the server certificate, then its chain.
    pub cert_file: String,
    /// PEM: the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardingSettings {
    /// Proxies in front of the gatekeeper (an ingress, a load balancer), as addresses or CIDR
    /// blocks, whose `X-Forwarded-For/-Proto/-Host` are believed (see [`crate::forwarded`]).
    /// Environment: comma-separated. Empty: the gatekeeper is the first hop.
    pub trusted_proxies: Vec<String>,
    /// Ordinary HTTP/1.1 requests on plain connections are read and forwarded by the
    /// gatekeeper's own code (`h1`); `false` leaves every connection to hyper.
    pub own_http1: bool,
    /// An idle upstream connection is reused for this long at most (counted from the start of
    /// the request it last carried). Shorter than upstreams keep theirs open (the services,
    /// actix, Apache and Node.js: 5 s), so that none closes one just as a request goes out on
    /// it: a request that cannot be sent again (a POST) would fail with a 502.
    pub upstream_idle_ms: u64,
}

impl ForwardingSettings {
    pub fn upstream_idle(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.upstream_idle_ms.max(1))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsSettings {
    pub host: String,
    pub port: u16,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesSettings {
    /// The route table (YAML; schema in proto-contracts/gatekeeper-routes.schema.json).
    pub file: String,
    /// How often the file's modification time is checked; SIGHUP reloads at once. 0: no polling.
    pub watch_interval_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySettings {
    /// auth-token's base URL; the gatekeeper calls `{url}/admin/tokens/{token}/verify`.
    pub url: String,
    pub timeout_ms: u64,
    /// A positive answer is reused for at most this long, and never past the token's expiry.
    pub cache_ttl_secs: u64,
    /// An unknown or refused token is remembered this long (0: not at all).
    pub negative_ttl_secs: u64,
    pub cache_capacity: u64,
    /// The gatekeeper's own credential on auth-token's verify endpoints (auth-token's
    /// `SERVICE__TOKENS`), sent as `Authorization: Bearer`.
    #[serde(default)]
    pub service_token: Option<SecretString>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbacSettings {
    pub timeout_ms: u64,
}

/// What one caller can hold of the proxy port (a caller is a client address: the connection's,
/// or behind a trusted proxy the one its `x-forwarded-for` names).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// A request body must arrive within this long of its head (else 408, connection closed).
    pub body_timeout_ms: u64,
    /// Open connections per proxy worker; at the cap the worker accepts no more until one
    /// closes (they wait in the listen backlog).
    pub connections_per_worker: usize,
    /// Open connections per client address, over all workers; more are closed at once.
    pub connections_per_client: usize,
    /// Tokens or api-keys auth-token may refuse per client address per minute (each unknown
    /// token is a database lookup there); once spent, tokens the cache does not know get 429
    /// before the call. Good tokens and auth-token's failures spend nothing. 0: no limit.
    pub verify_misses_per_client: u32,
}

impl LimitSettings {
    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationSettings {
    /// The mithril database, as a role that may only LISTEN (env
    /// `GATEKEEPER__REVOCATIONS__URL`). Set: cached verify answers are dropped as tokens are
    /// revoked, and no cache is used while the events do not arrive. Unset: a revoked token is
    /// served until its answer leaves the cache (`verify.cache_ttl_secs`).
    #[serde(default)]
    pub url: Option<SecretString>,
    /// The subscription is pinged this often, and taken as lost when a ping takes this long.
    pub heartbeat_ms: u64,
}

impl RevocationSettings {
    /// The listener's settings, when events are configured.
    pub fn listener(&self) -> Option<crate::revocations::ListenerSettings> {
        self.url
            .clone()
            .map(|url| crate::revocations::ListenerSettings {
                url,
                heartbeat: Duration::from_millis(self.heartbeat_ms.max(1)),
            })
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependencySettings {
    /// `true` restores the reference: auth-token down → 401, ABAC down → 403. Default: 503.
    pub compat_statuses: bool,
    pub retry_after_secs: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// `redis://host:port/db`; without it limits are per process.
    #[serde(default)]
    pub redis_url: Option<SecretString>,
    /// A Redis call slower than this falls back to the local limiter.
    pub redis_timeout_ms: u64,
    /// After a Redis failure, the local limiter is used this long before Redis is tried again.
    pub redis_retry_secs: u64,
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        platform::settings::load(ENV_PREFIX, DEFAULTS, &["forwarding.trusted_proxies"])
    }

    /// The built-in defaults, without file or environment (tests start from these).
    pub fn defaults() -> anyhow::Result<Self> {
        platform::settings::defaults(DEFAULTS)
    }
}

impl VerifySettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}
