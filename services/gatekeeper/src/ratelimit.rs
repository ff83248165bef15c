//! Rate limits per route and caller, as GCRA (generic cell rate algorithm): each period with a
//! limit `n` lets a burst of `n` through, then one request every `period / n`. There are no
//! window edges to burst across (spec §4 W11), and one stored instant per period is the whole
//! state.
//!
//! Checked after authentication, keyed by the token's client (never by whatever token string
//! a caller rotates). In memory by default; with Redis, one atomic script checks and updates
//! every period of a key, so replicas share the budget. While Redis fails or is slow the local
//! limiter takes over for `redis_retry_secs`, so limits stay enforced per replica.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Second,
    Minute,
    Hour,
    Day,
}

impl Period {
    pub fn name(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }
    fn micros(self) -> u64 {
        match self {
            Self::Second => 1_000_000,
            Self::Minute => 60_000_000,
            Self::Hour => 3_600_000_000,
            Self::Day => 86_400_000_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RateLimit {
    /// (period, limit), shortest period first.
    pub limits: Vec<(Period, u32)>,
}

impl RateLimit {
    pub fn new(limits: Vec<(Period, u32)>) -> Self {
        Self { limits }
    }
    /// (emission interval, tolerance) in microseconds per period.
    fn cells(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.limits.iter().map(|(p, n)| {
            let tau = p.micros();
            (tau / u64::from(*n).max(1), tau)
        })
    }
}

/// The answer for one request: headers for every answer, and whether to let it through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The limit of the period closest to refusing.
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until that period has a request to spare again (`Retry-After` on 429).
    pub reset_secs: u64,
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The GCRA step for all periods of one key: refuse if any period refuses; update only when all
/// allow. `tats` are the stored theoretical arrival times (0 = none).
fn gcra(limit: &RateLimit, tats: &mut [u64], now: u64) -> Decision {
    let mut next = Vec::with_capacity(tats.len());
    let mut allowed = true;
    let mut tightest = (u32::MAX, 0u64, 0u32); // remaining, reset, limit
    for ((t, tau), (stored, (_, n))) in limit.cells().zip(tats.iter().zip(limit.limits.iter())) {
        let tat = (*stored).max(now);
        let new_tat = tat + t;
        if new_tat - now > tau {
            allowed = false;
            let wait = new_tat - tau - now;
            tightest = (0, wait.div_ceil(1_000_000).max(1), *n);
            next.push(*stored);
        } else {
            let remaining = ((tau - (new_tat - now)) / t) as u32;
            if remaining < tightest.0 && allowed {
                tightest = (remaining, (new_tat - now).div_ceil(1_000_000), *n);
            }
            next.push(new_tat);
        }
    }
    if allowed {
        tats.copy_from_slice(&next);
    }
    Decision {
        allowed,
        limit: tightest.2,
        remaining: tightest.0,
        reset_secs: tightest.1,
    }
}

const SHARDS: usize = 16;

/// In-process limiter: sharded maps of key → stored instants.
/// Per key: the stored instant of each period, and when the whole entry may be dropped.
type Shard = Mutex<HashMap<String, (Vec<u64>, u64)>>;

pub struct LocalLimiter {
    shards: Vec<Shard>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for LocalLimiter {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }
}

impl LocalLimiter {
    pub fn check(&self, key: &str, limit: &RateLimit) -> Decision {
        let now = now_micros();
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        let mut map = match shard.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let longest = limit.limits.last().map(|(p, _)| p.micros()).unwrap_or(0);
        let entry = map
            .entry(key.to_owned())
            .or_insert_with(|| (vec![0; limit.limits.len()], 0));
        if entry.0.len() != limit.limits.len() {
            // The route's limits changed on reload: start the key afresh.
            *entry = (vec![0; limit.limits.len()], 0);
        }
        let d = gcra(limit, &mut entry.0, now);
        entry.1 = entry.0.iter().copied().max().unwrap_or(now).max(now) + longest;
        d
    }

    /// The decision [`Self::check`] would make now, without spending anything.
    pub fn peek(&self, key: &str, limit: &RateLimit) -> Decision {
        let now = now_micros();
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        let map = match shard.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut tats = map
            .get(key)
            .filter(|(tats, _)| tats.len() == limit.limits.len())
            .map_or_else(|| vec![0; limit.limits.len()], |(tats, _)| tats.clone());
        gcra(limit, &mut tats, now)
    }

    /// Drops keys whose every period has recovered fully (called periodically).
    pub fn sweep(&self) {
        let now = now_micros();
        for shard in &self.shards {
            let mut map = match shard.lock() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            map.retain(|_, (_, until)| *until > now);
        }
    }
}

/// Checks every period of one key and updates them only when all allow, atomically. Time comes
/// from the Redis server so replicas with skewed clocks agree. Returns
/// {allowed, limit, remaining, reset_secs}.
const GCRA_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local next = {}
local allowed = 1
local best_rem, best_reset, best_limit = 2147483647, 0, 0
for i = 1, n do
  local interval = tonumber(ARGV[3 * i - 2])
  local tau = tonumber(ARGV[3 * i - 1])
  local limit = tonumber(ARGV[3 * i])
  local stored = tonumber(redis.call('GET', KEYS[i]) or '0')
  local tat = math.max(stored, now)
  local new_tat = tat + interval
  if new_tat - now > tau then
    allowed = 0
    best_rem, best_limit = 0, limit
    best_reset = math.max(1, math.ceil((new_tat - tau - now) / 1000000))
  else
    local rem = math.floor((tau - (new_tat - now)) / interval)
    if allowed == 1 and rem < best_rem then
      best_rem, best_limit = rem, limit
      best_reset = math.ceil((new_tat - now) / 1000000)
    end
    next[i] = new_tat
  end
end
if allowed == 1 then
  for i = 1, n do
    redis.call('SET', KEYS[i], string.format('%d', next[i]), 'PX', math.ceil((next[i] - now) / 1000) + 1)
  end
end
return {allowed, best_limit, best_rem, best_reset}
"#;

/// Redis with the local limiter behind it.
pub struct Limiter {
    local: LocalLimiter,
    redis: Option<RedisLimiter>,
}

struct RedisLimiter {
    conn: tokio::sync::OnceCell<ConnectionManager>,
    client: redis::Client,
    script: redis::Script,
    timeout: Duration,
    retry: Duration,
    /// Until this instant (micros since epoch) the local limiter is used.
    down_until: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Redis,
    /// Redis is configured but failing: the local limiter answered.
    Fallback,
}

impl Limiter {
    pub fn new(
        redis_url: Option<&str>,
        timeout: Duration,
        retry: Duration,
    ) -> anyhow::Result<Self> {
        let redis = match redis_url {
            None => None,
            Some(url) => Some(RedisLimiter {
                conn: tokio::sync::OnceCell::new(),
                client: redis::Client::open(url)
                    .map_err(|e| anyhow::anyhow!("rate_limit.redis_url is invalid: {e}"))?,
                script: redis::Script::new(GCRA_SCRIPT),
                timeout,
                retry,
                down_until: AtomicU64::new(0),
            }),
        };
        Ok(Self {
            local: LocalLimiter::default(),
            redis,
        })
    }

    pub fn local(&self) -> &LocalLimiter {
        &self.local
    }

    pub async fn check(&self, route: &str, key: &str, limit: &RateLimit) -> (Decision, Backend) {
        let full_key = format!("{route}\u{1f}{key}");
        let Some(redis) = &self.redis else {
            return (self.local.check(&full_key, limit), Backend::Local);
        };
        if redis.down_until.load(Ordering::Relaxed) > now_micros() {
            return (self.local.check(&full_key, limit), Backend::Fallback);
        }
        match tokio::time::timeout(redis.timeout, redis.check(route, key, limit)).await {
            Ok(Ok(d)) => (d, Backend::Redis),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "rate limit: Redis failed, using the local limiter");
                redis.mark_down();
                (self.local.check(&full_key, limit), Backend::Fallback)
            }
            Err(_) => {
                tracing::warn!("rate limit: Redis timed out, using the local limiter");
                redis.mark_down();
                (self.local.check(&full_key, limit), Backend::Fallback)
            }
        }
    }
}

impl RedisLimiter {
    fn mark_down(&self) {
        self.down_until.store(
            now_micros() + self.retry.as_micros() as u64,
            Ordering::Relaxed,
        );
    }

    async fn check(
        &self,
        route: &str,
        key: &str,
        limit: &RateLimit,
    ) -> redis::RedisResult<Decision> {
        let conn = self
            .conn
            .get_or_try_init(|| {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(0);
                ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await?;
        let mut conn = conn.clone();
        let mut inv = self.script.prepare_invoke();
        for ((p, n), (t, tau)) in limit.limits.iter().zip(limit.cells()) {
            // Keys of one route and caller share a hash tag: one slot on a cluster.
            inv.key(format!("gk:rl:{{{route}:{key}}}:{}", p.name()));
            inv.arg(t).arg(tau).arg(*n);
        }
        let (allowed, lim, remaining, reset): (i64, i64, i64, i64) =
            inv.invoke_async(&mut conn).await?;
        Ok(Decision {
            allowed: allowed == 1,
            limit: lim.max(0) as u32,
            remaining: remaining.max(0) as u32,
            reset_secs: reset.max(0) as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_then_recover() {
        let limit = RateLimit::new(vec![(Period::Second, 3), (Period::Minute, 5)]);
        let mut tats = vec![0, 0];
        let now = 1_000_000_000;
        let d: Vec<_> = (0..3).map(|_| gcra(&limit, &mut tats, now)).collect();
        assert!(d.iter().all(|d| d.allowed));
        assert_eq!(d[0].remaining, 2);
        assert_eq!(d[2].remaining, 0);
        let refused = gcra(&limit, &mut tats, now);
        assert!(!refused.allowed);
        assert_eq!((refused.limit, refused.reset_secs), (3, 1));
        // A second later the per-second budget is back; the minute has 2 of 5 left.
        let later = gcra(&limit, &mut tats, now + 1_000_000);
        assert!(later.allowed);
        assert_eq!(later.remaining, 1);
        assert_eq!(later.limit, 5);
        gcra(&limit, &mut tats, now + 2_000_000);
        let minute_out = gcra(&limit, &mut tats, now + 3_000_000);
        assert!(!minute_out.allowed);
        assert_eq!(minute_out.limit, 5);
        assert!(minute_out.reset_secs > 1);
    }

    #[test]
    fn local_limiter_keys_are_independent() {
        let l = LocalLimiter::default();
        let limit = RateLimit::new(vec![(Period::Minute, 1)]);
        assert!(l.check("a", &limit).allowed);
        assert!(!l.check("a", &limit).allowed);
        assert!(l.check("b", &limit).allowed);
    }
}
