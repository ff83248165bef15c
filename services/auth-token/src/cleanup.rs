//! Deletes tokens that expired more than `retention_days` ago, in batches, failed logins as old
//! and expired sign-ins, on an interval. One
//! runner across replicas: a run holds a Postgres advisory lock, and a replica that cannot take
//! it skips the round.

use std::time::Duration;

use anyhow::Context;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::RunQueryDsl;
use mithril_store::tokens::{self, now_unix};
use platform::db::DbPool;

use crate::settings::CleanupSettings;

pub const LOCK_KEY: i64 = 0x746f_6b65_6e5f_6763; // "token_gc"

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// The background loop (spawned by `Application::build` when enabled).
pub async fn run(pool: DbPool, settings: CleanupSettings) {
    let mut tick = tokio::time::interval(Duration::from_secs(settings.interval_secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match run_once(&pool, &settings).await {
            Ok(Some(deleted)) if deleted > 0 => tracing::info!(deleted, "expired tokens deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "token cleanup failed"),
        }
    }
}

/// One round. `Ok(None)` when another replica holds the lock.
pub async fn run_once(pool: &DbPool, settings: &CleanupSettings) -> anyhow::Result<Option<usize>> {
    let mut conn = pool.get().await.context("no database connection")?;
    let got: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
        .bind::<BigInt, _>(LOCK_KEY)
        .get_result(&mut conn)
        .await
        .context("taking the cleanup lock")?;
    if !got.locked {
        return Ok(None);
    }
    let before = now_unix() - settings.retention_days.saturating_mul(86_400);
    let mut deleted = 0;
    let result = loop {
        match tokens::delete_expired(&mut conn, before, settings.batch_size).await {
            Ok(n) => {
                deleted += n;
                if (n as i64) < settings.batch_size {
                    break Ok(Some(deleted));
                }
            }
            Err(e) => break Err(anyhow::Error::new(e).context("deleting expired tokens")),
        }
    };
    // Failed logins kept as long as expired tokens (they stopped counting after the lockout
    // period; kept for who asks what happened).
    let result = match result {
        Ok(done) => {
            let before = chrono::Utc::now() - chrono::Duration::days(settings.retention_days);
            let failures = mithril_store::users::delete_old_login_failures(&mut conn, before)
                .await
                .context("deleting old login failures");
            // Sign-ins in progress that expired: nobody can finish them.
            let sign_ins = mithril_store::sign_ins::delete_expired(&mut conn, chrono::Utc::now())
                .await
                .context("deleting expired sign-ins");
            failures.and(sign_ins).map(|_| done)
        }
        failed => failed,
    };
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(LOCK_KEY)
        .execute(&mut conn)
        .await
        .context("releasing the cleanup lock")?;
    result
}
