//! Token verification through auth-token's contract (`GET /admin/tokens/{token}/verify`, spec
//! gatekeeper.md §1.3), behind a cache (§4 W1):
//! - keyed by SHA-256(token ‖ 0 ‖ api-key), so neither the token nor the key is kept;
//! - a positive answer lives for min(cache_ttl, expires_at − now), never past the token's expiry;
//! - a refusal (404/401/422) lives `negative_ttl`, so garbage tokens do not hammer auth-token;
//! - concurrent misses for one key make one call (single-flight);
//! - a dependency failure (transport error, timeout, 5xx, unreadable 200) is never cached and
//!   never reported as an invalid token (W3);
//! - each thread keeps the positive answers it used recently in front of that cache (a plain
//!   hash-map lookup instead of the shared cache's bookkeeping on every request), each for no
//!   longer than the shared cache keeps it and none past a purge;
//! - with revocation events configured ([`crate::revocations`]) the cache is used only while
//!   they arrive: each event drops the answers it names, and an answer fetched while a purge
//!   happened is not kept (it may predate the revocation).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use ehealth_core::identity_signature::{IdentityMac, Signature, SigningKey};
use http::header::HeaderValue;
use moka::Expiry;
use moka::future::Cache;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::metrics::GateMetrics;
use crate::ratelimit::{LocalLimiter, Period, RateLimit};
use crate::revocations::Revocation;
use crate::settings::VerifySettings;

/// What the upstream services are told about the caller (ARCHITECTURE.md, identity headers),
/// with the header values prepared once per cached answer.
#[derive(Debug)]
pub struct Identity {
    /// None for api-key identities (a client, no user).
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub mis_client_id: Option<String>,
    pub person_id: Option<String>,
    pub scope: String,
    pub broker_scope: Option<String>,
    pub expires_at: i64,
    pub headers: IdentityHeaders,
}

#[derive(Debug)]
pub struct IdentityHeaders {
    pub consumer_id: Option<HeaderValue>,
    pub consumer_scope: Option<HeaderValue>,
    pub consumer_metadata: Option<HeaderValue>,
    pub client_id: Option<HeaderValue>,
    pub mis_client_id: Option<HeaderValue>,
    pub person_id: Option<HeaderValue>,
    /// The signature's part that depends on these headers alone, computed at the first
    /// signature (the process has one signing key) and kept as long as the answer is cached.
    pub signing: OnceLock<IdentityMac>,
}

impl IdentityHeaders {
    /// The trusted headers this identity sets upstream, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &HeaderValue)> {
        [
            ("x-consumer-id", &self.consumer_id),
            ("x-consumer-scope", &self.consumer_scope),
            ("x-consumer-metadata", &self.consumer_metadata),
            ("x-client-id", &self.client_id),
            ("x-mis-client-id", &self.mis_client_id),
            ("x-person-id", &self.person_id),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.as_ref().map(|v| (name, v)))
    }
}

impl IdentityHeaders {
    /// The `x-consumer-signature` of these headers on `method target`, now
    /// ([`ehealth_core::identity_signature`]).
    pub fn signature(&self, key: &SigningKey, method: &[u8], target: &[u8]) -> Signature {
        self.signing
            .get_or_init(|| {
                key.identity(
                    [
                        &self.consumer_id,
                        &self.consumer_metadata,
                        &self.consumer_scope,
                        &self.client_id,
                        &self.mis_client_id,
                        &self.person_id,
                    ]
                    .map(|v| v.as_ref().map(HeaderValue::as_bytes)),
                )
            })
            .header(unix_now(), method, target)
    }
}

impl Identity {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
    pub fn broker_allows(&self, scope: &str) -> bool {
        self.broker_scope
            .as_deref()
            .is_none_or(|b| b.split(' ').any(|s| s == scope))
    }
}

/// auth-token's answer, as the cache keeps it.
#[derive(Debug, Clone)]
pub enum Verdict {
    Valid(Arc<Identity>),
    /// The token is unknown, expired, blocked, or the api-key does not fit; the message is
    /// auth-token's.
    Refused(Arc<str>),
}

#[derive(Debug, Clone)]
pub struct Unavailable(pub String);

/// Why a request got no verdict.
#[derive(Debug, Clone)]
pub enum NoVerdict {
    /// auth-token failed (transport, timeout, 5xx, an unreadable answer).
    Unavailable(Unavailable),
    /// The caller's address asked about too many tokens the cache did not know; auth-token was
    /// not called.
    TooManyMisses { retry_after_secs: u64 },
}

impl From<Unavailable> for NoVerdict {
    fn from(e: Unavailable) -> Self {
        Self::Unavailable(e)
    }
}

#[derive(Clone)]
struct Entry {
    verdict: Verdict,
    /// SHA-256 of the token alone: purging one token drops it under every api-key.
    token_hash: [u8; 32],
    /// When the shared cache drops it at the latest ([`EntryExpiry`], from its creation).
    expires: Instant,
}

impl Entry {
    fn identity(&self) -> Option<&Identity> {
        match &self.verdict {
            Verdict::Valid(id) => Some(id),
            Verdict::Refused(_) => None,
        }
    }
}

struct EntryExpiry {
    ttl: Duration,
    negative_ttl: Duration,
}

impl EntryExpiry {
    fn life(&self, verdict: &Verdict) -> Duration {
        match verdict {
            Verdict::Valid(id) => {
                let left = id.expires_at - unix_now();
                self.ttl.min(Duration::from_secs(left.max(0) as u64))
            }
            Verdict::Refused(_) => self.negative_ttl,
        }
    }
}

impl Expiry<[u8; 32], Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &[u8; 32], e: &Entry, _: Instant) -> Option<Duration> {
        Some(self.life(&e.verdict))
    }
}

/// A positive answer this thread used recently, of one verifier.
struct Recent {
    verifier: u64,
    /// The verifier's generation before the answer was read from the shared cache: a purge
    /// since then moved it, and the answer is not used again.
    generation: u64,
    expires: Instant,
    identity: Arc<Identity>,
}

/// Entries per thread; a full map is emptied (the shared cache still holds them).
const RECENT_MAX: usize = 1024;

/// The keys are SHA-256 outputs already: their first eight bytes are the hash.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut first = [0u8; 8];
        let n = bytes.len().min(8);
        first[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(first);
    }
}

type RecentMap = HashMap<[u8; 32], Recent, BuildHasherDefault<DigestHasher>>;

thread_local! {
    static RECENT: RefCell<RecentMap> = RefCell::default();
}

/// Tells verifiers apart in the per-thread maps (tests run several in one thread).
static VERIFIER_IDS: AtomicU64 = AtomicU64::new(0);

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub struct Verifier {
    base: String,
    http: reqwest::Client,
    cache: Cache<[u8; 32], Entry>,
    expiry: EntryExpiry,
    id: u64,
    /// Moved by every purge; per-thread answers read before it are not used again.
    generation: AtomicU64,
    /// False while revocation events are expected but not received: every answer then comes
    /// from auth-token.
    cache_in_use: AtomicBool,
    negative: bool,
    timeout: Duration,
    metrics: GateMetrics,
    /// `Bearer <service token>` for auth-token, when configured.
    credential: Option<HeaderValue>,
    /// Refusals auth-token may give per client address (`limits.verify_misses_per_client`).
    misses: Option<(LocalLimiter, RateLimit)>,
}

#[derive(Deserialize)]
struct VerifyBody {
    data: VerifyData,
    #[serde(default)]
    urgent: Option<Urgent>,
}

#[derive(Deserialize)]
struct VerifyData {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    consumer_id: Option<String>,
    #[serde(default)]
    consumer_scope: Option<String>,
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    details: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    user: Option<VerifyUser>,
}

#[derive(Deserialize)]
struct VerifyUser {
    #[serde(default)]
    person_id: Option<String>,
}

#[derive(Deserialize)]
struct Urgent {
    #[serde(default)]
    mis_client_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
}

const INVALID_TOKEN: &str = "Invalid access token";
pub const INVALID_API_KEY: &str = "Invalid api key";

impl Verifier {
    /// `http`'s connect timeout should be the verify timeout; each call is bounded by it too.
    /// With `events`, the cache stays unused until [`Self::use_cache`] (the revocation
    /// listener's subscription).
    pub fn new(
        s: &VerifySettings,
        misses_per_minute: u32,
        http: reqwest::Client,
        metrics: GateMetrics,
        events: bool,
    ) -> anyhow::Result<Self> {
        let expiry = || EntryExpiry {
            ttl: Duration::from_secs(s.cache_ttl_secs),
            negative_ttl: Duration::from_secs(s.negative_ttl_secs),
        };
        let cache = Cache::builder()
            .max_capacity(s.cache_capacity)
            .expire_after(expiry())
            .support_invalidation_closures()
            .build();
        Ok(Self {
            base: s.url.trim_end_matches('/').to_owned(),
            http,
            cache,
            expiry: expiry(),
            id: VERIFIER_IDS.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            cache_in_use: AtomicBool::new(!events),
            negative: s.negative_ttl_secs > 0,
            timeout: s.timeout(),
            metrics,
            credential: s
                .service_token
                .as_ref()
                .map(|t| {
                    let mut v = HeaderValue::from_str(&format!("Bearer {}", t.expose_secret()))
                        .context("verify.service_token is not a valid header value")?;
                    v.set_sensitive(true);
                    anyhow::Ok(v)
                })
                .transpose()?,
            misses: (misses_per_minute > 0).then(|| {
                (
                    LocalLimiter::default(),
                    RateLimit::new(vec![(Period::Minute, misses_per_minute)]),
                )
            }),
        })
    }

    fn key(token: &str, api_key: Option<&str>) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(token.as_bytes());
        h.update([0]);
        h.update(api_key.unwrap_or("").as_bytes());
        h.finalize().into()
    }

    pub fn token_hash(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The cached answer, or one call to auth-token shared by every concurrent caller; a caller
    /// (`client`) gets only so many calls for tokens the cache does not know.
    pub async fn verify(
        &self,
        token: &str,
        api_key: Option<&str>,
        request_id: &str,
        client: IpAddr,
        otel: Option<&opentelemetry::Context>,
    ) -> Result<Verdict, NoVerdict> {
        if !self.cache_in_use.load(Ordering::Acquire) {
            self.counted("bypass", otel);
            self.admit_miss(client)?;
            let verdict = Box::pin(self.call(token, api_key, request_id, otel)).await?;
            self.charge_refusal(client, &verdict);
            return Ok(verdict);
        }
        let key = Self::key(token, api_key);
        if let Some(identity) = self.recent(&key) {
            self.counted("hit", otel);
            return Ok(Verdict::Valid(identity));
        }
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(e) = self.cache.get(&key).await {
            self.counted("hit", otel);
            self.remember(key, generation, &e);
            return Ok(e.verdict);
        }
        self.counted("miss", otel);
        self.admit_miss(client)?;
        // Boxed: the call's state (an HTTP request) would otherwise enlarge every request's
        // future, cache hits and routes without a token included.
        let entry = Box::pin(self.miss(key, token, api_key, request_id, otel)).await?;
        self.charge_refusal(client, &entry.verdict);
        if self.generation.load(Ordering::Acquire) == generation {
            self.remember(key, generation, &entry);
        } else {
            // A purge came while auth-token answered: the answer may predate a revocation.
            self.cache.invalidate(&key).await;
        }
        Ok(entry.verdict)
    }

    /// The cache's answer, in the metric and on the request's span.
    fn counted(&self, result: &'static str, otel: Option<&opentelemetry::Context>) {
        self.metrics.cache(result);
        crate::spans::note(otel, "gatekeeper.verify_cache", result);
    }

    /// Whether `client` may have auth-token asked about a token the cache does not know, or how
    /// long it must wait. Only refusals spend the budget ([`Self::charge_refusal`]): it guards
    /// auth-token against floods of unknown tokens, not against a caller whose good tokens
    /// miss because the cache is bypassed or purged, nor against auth-token's own failures
    /// (a database restart would otherwise spend every caller's budget within seconds, and
    /// leave them refused for a minute after it).
    fn admit_miss(&self, client: IpAddr) -> Result<(), NoVerdict> {
        let Some((limiter, limit)) = &self.misses else {
            return Ok(());
        };
        let mut key = [0u8; 46];
        let key = format_ip(client, &mut key);
        let decision = limiter.peek(key, limit);
        if decision.allowed {
            return Ok(());
        }
        self.metrics.cache("miss_refused");
        Err(NoVerdict::TooManyMisses {
            retry_after_secs: decision.reset_secs,
        })
    }

    /// Spends one of `client`'s budget when auth-token refused the token it asked about.
    fn charge_refusal(&self, client: IpAddr, verdict: &Verdict) {
        if let (Some((limiter, limit)), Verdict::Refused(_)) = (&self.misses, verdict) {
            let mut key = [0u8; 46];
            limiter.check(format_ip(client, &mut key), limit);
        }
    }

    /// Drops the miss budgets that have recovered fully (called periodically).
    pub fn sweep(&self) {
        if let Some((limiter, _)) = &self.misses {
            limiter.sweep();
        }
    }

    /// This thread's recent positive answer for `key`, while the shared cache would still
    /// give it and no purge came since.
    fn recent(&self, key: &[u8; 32]) -> Option<Arc<Identity>> {
        let generation = self.generation.load(Ordering::Acquire);
        RECENT.with_borrow(|recent| {
            let r = recent.get(key)?;
            let fresh =
                r.verifier == self.id && r.generation == generation && Instant::now() < r.expires;
            fresh.then(|| r.identity.clone())
        })
    }

    fn remember(&self, key: [u8; 32], generation: u64, e: &Entry) {
        let Verdict::Valid(identity) = &e.verdict else {
            return;
        };
        RECENT.with_borrow_mut(|recent| {
            if recent.len() >= RECENT_MAX {
                recent.clear();
            }
            recent.insert(
                key,
                Recent {
                    verifier: self.id,
                    generation,
                    expires: e.expires,
                    identity: identity.clone(),
                },
            );
        });
    }

    async fn miss(
        &self,
        key: [u8; 32],
        token: &str,
        api_key: Option<&str>,
        request_id: &str,
        otel: Option<&opentelemetry::Context>,
    ) -> Result<Entry, Unavailable> {
        let entry = self
            .cache
            .try_get_with(key, async {
                let verdict = self.call(token, api_key, request_id, otel).await?;
                let expires = Instant::now() + self.expiry.life(&verdict);
                Ok::<_, Unavailable>(Entry {
                    verdict,
                    token_hash: Self::token_hash(token),
                    expires,
                })
            })
            .await
            .map_err(|e: Arc<Unavailable>| (*e).clone())?;
        // A refusal is shared with the concurrent callers, then dropped when not cached.
        if matches!(entry.verdict, Verdict::Refused(_)) && !self.negative {
            self.cache.invalidate(&key).await;
        }
        Ok(entry)
    }

    /// The client behind an `api-key` (routes with `auth: api_key`), cached like tokens. The key
    /// is sent in a header to auth-token's `/admin/api_keys/verify`, never in a path.
    pub async fn verify_api_key(
        &self,
        api_key: &str,
        request_id: &str,
        client: IpAddr,
        otel: Option<&opentelemetry::Context>,
    ) -> Result<Verdict, NoVerdict> {
        // The cache key of an api-key lookup: no token is empty, so it cannot collide with one.
        let verdict = self
            .verify("", Some(api_key), request_id, client, otel)
            .await?;
        Ok(match verdict {
            Verdict::Refused(_) => Verdict::Refused(INVALID_API_KEY.into()),
            valid => valid,
        })
    }

    async fn call(
        &self,
        token: &str,
        api_key: Option<&str>,
        request_id: &str,
        otel: Option<&opentelemetry::Context>,
    ) -> Result<Verdict, Unavailable> {
        let started = Instant::now();
        let span = crate::spans::Call::start(otel, "verify");
        let api_key_only = token.is_empty();
        let url = if api_key_only {
            format!("{}/admin/api_keys/verify", self.base)
        } else {
            format!(
                "{}/admin/tokens/{}/verify",
                self.base,
                percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC)
            )
        };
        let mut req = self
            .http
            .get(url)
            .timeout(self.timeout)
            .header("accept", "application/json")
            .header("x-request-id", request_id);
        if let Some(k) = api_key {
            req = req.header("api-key", k);
        }
        if let Some(credential) = &self.credential {
            req = req.header("authorization", credential.clone());
        }
        if let Some(span) = &span {
            req = req.header("traceparent", &span.traceparent);
        }
        let result = req.send().await;
        let outcome = match result {
            Err(e) => Err(Unavailable(format!(
                "auth-token unreachable: {}",
                without_url(e)
            ))),
            Ok(res) => {
                let status = res.status();
                match res.bytes().await {
                    Err(e) => Err(Unavailable(format!(
                        "auth-token answer unreadable: {}",
                        without_url(e)
                    ))),
                    Ok(body) => interpret(status.as_u16(), &body, !api_key_only),
                }
            }
        };
        let label = match &outcome {
            Ok(Verdict::Valid(_)) => "valid",
            Ok(Verdict::Refused(_)) => "refused",
            Err(_) => "unavailable",
        };
        self.metrics.verify_latency(label, started.elapsed());
        if let Some(span) = span {
            span.end(label);
        }
        outcome
    }

    /// Drops every cached answer for this token (under any api-key). The per-thread answers
    /// all go (purges are rare); the generation moves after the shared cache dropped its
    /// entries, so no thread can keep one it read there before.
    pub fn purge_token(&self, token: &str) -> anyhow::Result<()> {
        let h = Self::token_hash(token);
        self.cache
            .invalidate_entries_if(move |_, e| e.token_hash == h)
            .map_err(|e| anyhow::anyhow!("purging the cache: {e}"))?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    pub fn purge_all(&self) {
        self.cache.invalidate_all();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Drops the cached answers a revocation event names.
    pub fn revoke(&self, event: &Revocation) -> anyhow::Result<()> {
        let matches: Box<dyn Fn(&Entry) -> bool + Send + Sync> = match event {
            Revocation::All => {
                self.purge_all();
                return Ok(());
            }
            Revocation::Tokens(hashes) => {
                let hashes: HashSet<[u8; 32]> = hashes.iter().copied().collect();
                Box::new(move |e| hashes.contains(&e.token_hash))
            }
            Revocation::Users(users) => {
                let users: HashSet<String> = users.iter().cloned().collect();
                Box::new(move |e| {
                    e.identity()
                        .and_then(|i| i.user_id.as_ref())
                        .is_some_and(|u| users.contains(u))
                })
            }
            Revocation::Clients(clients) => {
                let clients: HashSet<String> = clients.iter().cloned().collect();
                Box::new(move |e| {
                    e.identity().is_some_and(|i| {
                        [&i.client_id, &i.mis_client_id]
                            .into_iter()
                            .flatten()
                            .any(|c| clients.contains(c))
                    })
                })
            }
        };
        self.cache
            .invalidate_entries_if(move |_, e| matches(e))
            .map_err(|e| anyhow::anyhow!("purging the cache: {e}"))?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Whether answers may come from the cache: `true` once revocation events arrive, `false`
    /// when they stop (everything cached is dropped either way: events may have been missed).
    pub fn use_cache(&self, in_use: bool) {
        self.cache_in_use.store(in_use, Ordering::Release);
        self.purge_all();
    }
}

/// An address as text on the stack (the limiter's key; at most 45 characters).
fn format_ip(ip: IpAddr, buf: &mut [u8; 46]) -> &str {
    use std::io::Write;
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cursor, "{ip}");
    let n = cursor.position() as usize;
    std::str::from_utf8(&buf[..n]).unwrap_or("")
}

/// The request URL holds the token: never let it reach a log.
fn without_url(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    };
    format!("{kind}: {}", e.without_url())
}

/// `needs_user`: a token identity must name its user; an api-key identity has none.
fn interpret(status: u16, body: &[u8], needs_user: bool) -> Result<Verdict, Unavailable> {
    match status {
        200 => {
            let parsed: VerifyBody = serde_json::from_slice(body)
                .map_err(|e| Unavailable(format!("auth-token answered 200 with {e}")))?;
            Ok(identity(parsed, needs_user))
        }
        401 if credential_refused(body) => Err(Unavailable(
            "auth-token refused the gatekeeper's service credential".to_owned(),
        )),
        400..=499 => {
            let message = match status {
                422 => serde_json::from_slice::<ErrorBody>(body)
                    .ok()
                    .and_then(|b| b.error.message),
                _ => None,
            };
            Ok(Verdict::Refused(
                message.unwrap_or_else(|| INVALID_TOKEN.to_owned()).into(),
            ))
        }
        s => Err(Unavailable(format!("auth-token answered {s}"))),
    }
}

/// A 401 for the gatekeeper's own credential, not for the token: a misconfiguration, which must
/// not turn every token into an invalid one.
fn credential_refused(body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.error.message)
        .is_some_and(|m| {
            m == platform::admin::CREDENTIAL_REQUIRED || m == platform::admin::CREDENTIAL_INVALID
        })
}

fn identity(body: VerifyBody, needs_user: bool) -> Verdict {
    let data = body.data;
    let details = data.details.unwrap_or_default();
    let user_id = data.user_id.or(data.consumer_id);
    if needs_user && user_id.is_none() {
        return Verdict::Refused(INVALID_TOKEN.into());
    }
    let detail_str = |k: &str| details.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let Some(scope) = data.consumer_scope.or_else(|| detail_str("scope")) else {
        return Verdict::Refused(INVALID_TOKEN.into());
    };
    let client_id = detail_str("client_id");
    let broker_scope = detail_str("broker_scope");
    let mis_client_id = body.urgent.and_then(|u| u.mis_client_id);
    let person_id = data.user.and_then(|u| u.person_id);
    let hv = |s: &str| HeaderValue::from_str(s).ok();
    // Only the fields services read (keys sorted).
    let metadata = details.contains_key("scope").then(|| {
        let mut m = serde_json::Map::new();
        for k in [
            "client_id",
            "scope",
            "grant_type",
            "redirect_uri",
            "broker_scope",
        ] {
            if let Some(v) = details.get(k) {
                m.insert(k.to_owned(), v.clone());
            }
        }
        serde_json::Value::Object(m).to_string()
    });
    let consumer_id = match &user_id {
        Some(u) => match hv(u) {
            Some(v) => Some(v),
            None => return Verdict::Refused(INVALID_TOKEN.into()),
        },
        None => None,
    };
    let headers = IdentityHeaders {
        consumer_id,
        consumer_scope: hv(&scope),
        consumer_metadata: metadata.as_deref().and_then(hv),
        client_id: client_id.as_deref().and_then(hv),
        mis_client_id: mis_client_id.as_deref().and_then(hv),
        person_id: person_id.as_deref().and_then(hv),
        signing: OnceLock::new(),
    };
    Verdict::Valid(Arc::new(Identity {
        user_id,
        client_id,
        mis_client_id,
        person_id,
        scope,
        broker_scope,
        expires_at: data.expires_at.unwrap_or(i64::MAX),
        headers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_verify_answer() {
        let body = br#"{"meta":{},"data":{"id":"t","user_id":"u1","expires_at":4102444800,
            "details":{"client_id":"c1","scope":"a b","grant_type":"authorization_code",
            "redirect_uri":"https://x","broker_scope":"a"}},"urgent":{"mis_client_id":"m1"}}"#;
        let Ok(Verdict::Valid(id)) = interpret(200, body, true) else {
            panic!("not valid")
        };
        assert_eq!(id.user_id.as_deref(), Some("u1"));
        assert_eq!(id.client_id.as_deref(), Some("c1"));
        assert_eq!(id.mis_client_id.as_deref(), Some("m1"));
        assert!(id.has_scope("b") && !id.has_scope("c"));
        assert!(id.broker_allows("a") && !id.broker_allows("b"));
        let meta = id
            .headers
            .consumer_metadata
            .as_ref()
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(
            meta,
            r#"{"broker_scope":"a","client_id":"c1","grant_type":"authorization_code","redirect_uri":"https://x","scope":"a b"}"#
        );
    }

    #[test]
    fn a_positive_answer_lives_no_longer_than_the_token() {
        let expiry = EntryExpiry {
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
        };
        let entry = |expires_at: i64| {
            Entry {
            verdict: match interpret(
                200,
                format!(r#"{{"data":{{"user_id":"u","expires_at":{expires_at},"details":{{"scope":"a"}}}}}}"#)
                    .as_bytes(),
                true,
            ) {
                Ok(v) => v,
                Err(e) => panic!("{e:?}"),
            },
            token_hash: [0; 32],
            expires: Instant::now(),
        }
        };
        let ttl = |e: &Entry| expiry.expire_after_create(&[0; 32], e, Instant::now());
        assert_eq!(
            ttl(&entry(unix_now() + 3600)),
            Some(Duration::from_secs(60))
        );
        let soon = ttl(&entry(unix_now() + 10)).unwrap();
        assert!(soon <= Duration::from_secs(10) && soon >= Duration::from_secs(9));
        assert_eq!(ttl(&entry(unix_now() - 5)), Some(Duration::ZERO));
        let refused = Entry {
            verdict: Verdict::Refused("no".into()),
            token_hash: [0; 32],
            expires: Instant::now(),
        };
        assert_eq!(ttl(&refused), Some(Duration::from_secs(5)));
    }

    #[test]
    fn classifies_answers() {
        assert!(
            matches!(interpret(404, b"", true), Ok(Verdict::Refused(m)) if &*m == INVALID_TOKEN)
        );
        assert!(
            matches!(interpret(422, br#"{"error":{"message":"API-KEY header required."}}"#, true),
            Ok(Verdict::Refused(m)) if &*m == "API-KEY header required.")
        );
        assert!(interpret(500, b"", true).is_err());
        assert!(interpret(503, b"", true).is_err());
        assert!(interpret(200, b"<html>", true).is_err());
        // No user or no scope: refused, as the reference does.
        assert!(matches!(
            interpret(200, br#"{"data":{"details":{"scope":"a"}}}"#, true),
            Ok(Verdict::Refused(_))
        ));
        // An api-key identity has a client and a scope, no user.
        let Ok(Verdict::Valid(id)) = interpret(
            200,
            br#"{"data":{"consumer_scope":"a b","details":{"client_id":"c1","scope":"a b"}},"urgent":{"mis_client_id":"c1"}}"#,
            false,
        ) else {
            panic!("not valid")
        };
        assert!(id.user_id.is_none() && id.headers.consumer_id.is_none());
        assert_eq!(id.mis_client_id.as_deref(), Some("c1"));
    }
}
