//! Hot reload of the route table: on SIGHUP, on a change of the file's modification time or
//! size (polled), or on `POST /routes/reload`. The new table is parsed and validated whole,
//! then swapped in atomically; requests in flight keep the table they started with. An invalid
//! file keeps the table in force and logs why.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::Serialize;
use tokio::sync::watch;

use crate::table::{LoadContext, RouteTable};

pub struct Reloader {
    path: String,
    ctx: LoadContext,
    /// (modified, len) of the file as last read; the lock also serializes reloads.
    seen: Mutex<Option<(SystemTime, u64)>>,
    /// The current status, for /routes and for whoever waits for a reload.
    status: watch::Sender<ReloadStatus>,
}

#[derive(Clone, Serialize, Default, Debug)]
pub struct ReloadStatus {
    /// 1 for the table loaded at startup, +1 per successful reload.
    pub generation: u64,
    pub loaded_at: Option<String>,
    /// Why the last attempt failed, when it did (cleared by the next success).
    pub last_error: Option<String>,
}

/// A file's (modified, len), to notice that it changed.
pub(crate) fn file_stamp(path: &str) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Reloader {
    /// Loads the file once; startup fails when it is invalid.
    pub fn load(path: &str, ctx: LoadContext) -> anyhow::Result<(Self, RouteTable)> {
        let seen = file_stamp(path);
        let table = RouteTable::load(path, &ctx)?;
        let reloader = Self {
            path: path.to_owned(),
            ctx,
            seen: Mutex::new(seen),
            status: watch::Sender::new(ReloadStatus {
                generation: 1,
                loaded_at: Some(now_rfc3339()),
                last_error: None,
            }),
        };
        Ok((reloader, table))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(SystemTime, u64)>> {
        match self.seen.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn status(&self) -> ReloadStatus {
        self.status.borrow().clone()
    }

    /// Changes of the status as they happen (a test or an operator waiting for a reload).
    pub fn subscribe(&self) -> watch::Receiver<ReloadStatus> {
        self.status.subscribe()
    }

    /// Reads, validates and swaps in the file; returns the new generation.
    pub fn reload_now(&self, table: &ArcSwap<RouteTable>) -> anyhow::Result<u64> {
        let stamp = file_stamp(&self.path);
        let result = RouteTable::load(&self.path, &self.ctx);
        let mut seen = self.lock();
        *seen = stamp;
        match result {
            Ok(new) => {
                table.store(Arc::new(new));
                let mut generation = 0;
                self.status.send_modify(|s| {
                    s.generation += 1;
                    s.loaded_at = Some(now_rfc3339());
                    s.last_error = None;
                    generation = s.generation;
                });
                tracing::info!(file = %self.path, generation, "route table reloaded");
                Ok(generation)
            }
            Err(e) => {
                tracing::error!(file = %self.path, error = format!("{e:#}"), "route file rejected; keeping the table in force");
                self.status
                    .send_modify(|s| s.last_error = Some(format!("{e:#}")));
                Err(e)
            }
        }
    }

    fn changed(&self) -> bool {
        let stamp = file_stamp(&self.path);
        stamp.is_some() && stamp != *self.lock()
    }

    /// Runs until the process ends: SIGHUP and (when `interval` > 0) file polling.
    pub async fn watch(self: Arc<Self>, table: Arc<ArcSwap<RouteTable>>, interval: Duration) {
        on_hup_or_change(
            interval,
            "the route table",
            || self.changed(),
            || {
                let _ = self.reload_now(&table);
            },
        )
        .await;
    }
}

/// Calls `reload` on SIGHUP and, when `interval` is not zero, on every tick at which `changed`
/// says the files differ from those last read; runs until the process ends.
pub(crate) async fn on_hup_or_change(
    interval: Duration,
    what: &str,
    changed: impl Fn() -> bool,
    reload: impl Fn(),
) {
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "SIGHUP reload of {what} unavailable");
            None
        }
    };
    let poll = !interval.is_zero();
    let mut tick = tokio::time::interval(if poll {
        interval
    } else {
        Duration::from_secs(3600)
    });
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let hup_signal = async {
            match hup.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = hup_signal => {
                tracing::info!("SIGHUP: reloading {what}");
                reload();
            }
            _ = tick.tick() => {
                if poll && changed() {
                    reload();
                }
            }
        }
    }
}
