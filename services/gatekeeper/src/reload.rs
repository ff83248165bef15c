//! Hot reload of the route table: on SIGHUP, on a change of the file's modification time or
//! size (polled), or on `POST /routes/reload`. The new table is parsed and validated whole,
//! then swapped in atomically; requests in flight keep the table they started with. An invalid
//! file keeps the table in force and logs why.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::table::{LoadContext, RouteTable};

pub struct Reloader {
    path: String,
    ctx: LoadContext,
    state: Mutex<ReloadState>,
}

#[derive(Clone, Serialize, Default)]
pub struct ReloadStatus {
    /// 1 for the table loaded at startup, +1 per successful reload.
    pub generation: u64,
    pub loaded_at: Option<String>,
    /// Why the last attempt failed, when it did (cleared by the next success).
    pub last_error: Option<String>,
}

struct ReloadState {
    status: ReloadStatus,
    /// (modified, len) of the file as last read.
    seen: Option<(SystemTime, u64)>,
}

fn file_stamp(path: &str) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

fn now_rfc3339() -> String {
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
            state: Mutex::new(ReloadState {
                status: ReloadStatus {
                    generation: 1,
                    loaded_at: Some(now_rfc3339()),
                    last_error: None,
                },
                seen,
            }),
        };
        Ok((reloader, table))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReloadState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn status(&self) -> ReloadStatus {
        self.lock().status.clone()
    }

    /// Reads, validates and swaps in the file; returns the new generation.
    pub fn reload_now(&self, table: &ArcSwap<RouteTable>) -> anyhow::Result<u64> {
        let stamp = file_stamp(&self.path);
        let result = RouteTable::load(&self.path, &self.ctx);
        let mut state = self.lock();
        state.seen = stamp;
        match result {
            Ok(new) => {
                table.store(Arc::new(new));
                state.status.generation += 1;
                state.status.loaded_at = Some(now_rfc3339());
                state.status.last_error = None;
                tracing::info!(
                    file = %self.path,
                    generation = state.status.generation,
                    "route table reloaded"
                );
                Ok(state.status.generation)
            }
            Err(e) => {
                tracing::error!(file = %self.path, error = format!("{e:#}"), "route file rejected; keeping the table in force");
                state.status.last_error = Some(format!("{e:#}"));
                Err(e)
            }
        }
    }

    fn changed(&self) -> bool {
        let stamp = file_stamp(&self.path);
        stamp.is_some() && stamp != self.lock().seen
    }

    /// Runs until the process ends: SIGHUP and (when `interval` > 0) file polling.
    pub async fn watch(self: Arc<Self>, table: Arc<ArcSwap<RouteTable>>, interval: Duration) {
        #[cfg(unix)]
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "SIGHUP reload unavailable");
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
                    tracing::info!("SIGHUP: reloading the route table");
                    let _ = self.reload_now(&table);
                }
                _ = tick.tick() => {
                    if poll && self.changed() {
                        let _ = self.reload_now(&table);
                    }
                }
            }
        }
    }
}
