//! Caps on open proxy connections: per worker (at the cap a worker accepts nothing until one of
//! its connections closes; the others wait in the listen backlog) and per client address over
//! all workers (more are closed as they are accepted). Slow callers that open connections and
//! trickle their requests thus hold at most their own share, and the gateway's memory stays
//! bounded by the caps. A trusted proxy's connections carry many callers and are not capped by
//! address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Open connections by client address, shared by the workers.
pub struct ByClient {
    open: Mutex<HashMap<IpAddr, usize>>,
    cap: usize,
}

/// One worker's open connections.
#[derive(Default)]
pub struct ByWorker {
    open: AtomicUsize,
    freed: Notify,
}

/// A connection's place under both caps, given back when it is dropped.
pub struct Slot {
    worker: Arc<ByWorker>,
    client: Option<(Arc<ByClient>, IpAddr)>,
}

impl ByClient {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            open: Mutex::new(HashMap::new()),
            cap: cap.max(1),
        })
    }

    fn take(&self, ip: IpAddr) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.cap {
            return false;
        }
        *n += 1;
        true
    }

    fn give_back(&self, ip: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&ip);
            }
        }
    }
}

impl ByWorker {
    /// Returns once the worker has room for one more connection.
    pub async fn room(&self, cap: usize) {
        loop {
            let freed = self.freed.notified();
            if self.open.load(Ordering::Acquire) < cap.max(1) {
                return;
            }
            freed.await;
        }
    }

    /// A slot for a connection from `ip` (`capped`: counted against its address), or `None`
    /// when the address holds its share already.
    pub fn admit(
        self: &Arc<Self>,
        by_client: &Arc<ByClient>,
        ip: IpAddr,
        capped: bool,
    ) -> Option<Slot> {
        if capped && !by_client.take(ip) {
            return None;
        }
        self.open.fetch_add(1, Ordering::AcqRel);
        Some(Slot {
            worker: self.clone(),
            client: capped.then(|| (by_client.clone(), ip)),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((by_client, ip)) = &self.client {
            by_client.give_back(*ip);
        }
        self.worker.open.fetch_sub(1, Ordering::AcqRel);
        self.worker.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_holds_its_share_and_gets_it_back() {
        let by_client = ByClient::new(2);
        let worker = Arc::new(ByWorker::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = worker.admit(&by_client, a, true).unwrap();
        let _second = worker.admit(&by_client, a, true).unwrap();
        assert!(worker.admit(&by_client, a, true).is_none());
        assert!(worker.admit(&by_client, b, true).is_some());
        // A trusted proxy is not capped by address.
        assert!(worker.admit(&by_client, a, false).is_some());
        drop(first);
        assert!(worker.admit(&by_client, a, true).is_some());
    }

    #[tokio::test]
    async fn a_full_worker_waits_for_a_connection_to_close() {
        let by_client = ByClient::new(10);
        let worker = Arc::new(ByWorker::default());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let slot = worker.admit(&by_client, ip, true).unwrap();
        let waiting = tokio::spawn({
            let worker = worker.clone();
            async move { worker.room(1).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(slot);
        waiting.await.unwrap();
    }
}
