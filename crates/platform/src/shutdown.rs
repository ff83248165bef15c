//! Stopping without failing a request. On SIGTERM (or SIGINT) a server first *drains* for
//! `server.drain_secs`: it goes on serving, but `/ready` answers 503 so that a balancer
//! (haproxy's health check, Kubernetes' readiness probe) sends new requests elsewhere, and each
//! HTTP/1.1 answer carries `Connection: close` so that callers holding a keep-alive connection
//! open a new one (through the balancer, to another instance). Then it stops accepting and lets
//! the requests it has begun finish (`server.shutdown_timeout_secs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set once the process has been asked to stop; shared by the readiness check and the
/// transports.
#[derive(Clone, Default, Debug)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Marks the process as leaving, then waits `drain` while it goes on serving.
    pub async fn drain(&self, drain: Duration) {
        self.0.store(true, Ordering::Relaxed);
        if !drain.is_zero() {
            tracing::info!(seconds = drain.as_secs_f64(), "draining before stopping");
            tokio::time::sleep(drain).await;
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn draining_is_seen_by_every_clone_and_lasts_its_time() {
        let draining = Draining::default();
        let seen_by = draining.clone();
        assert!(!seen_by.is_set());
        let started = tokio::time::Instant::now();
        draining.drain(Duration::from_millis(50)).await;
        assert!(seen_by.is_set());
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
