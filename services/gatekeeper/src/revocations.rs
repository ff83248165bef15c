//! Revocation events (ARCHITECTURE.md, "Revocation"). The mithril database announces every
//! change that ends or narrows a token's validity on [`CHANNEL`] (triggers of mithril-store's
//! migration `000004_revocation_events`, in the transaction of the change). Each gatekeeper
//! listens itself, through a database role that may only connect and LISTEN, so that losing
//! auth-token loses no event, and drops the cached verify answers an event names.
//!
//! While the listener is not subscribed (start-up, a lost connection, a restarting database) an
//! event could pass unseen, so the verifier uses no cache then: every token is verified by
//! auth-token until the subscription is back, and everything cached before is dropped.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::metrics::GateMetrics;
use crate::verify::Verifier;

/// The channel the database triggers notify.
pub const CHANNEL: &str = "ehealth_revocations";

/// What one event tells the gatekeeper to drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// Tokens by the SHA-256 of their values (what auth-token stores).
    Tokens(Vec<[u8; 32]>),
    /// Every answer for these users.
    Users(Vec<String>),
    /// Every answer issued for, or brokered through, these clients.
    Clients(Vec<String>),
    /// Everything (the database names too many, or the payload is not understood).
    All,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    #[serde(default)]
    tokens: Option<Vec<String>>,
    #[serde(default)]
    users: Option<Vec<String>>,
    #[serde(default)]
    clients: Option<Vec<String>>,
    #[serde(default)]
    all: Option<bool>,
}

impl Revocation {
    /// An event that cannot be read drops everything: an event is never ignored.
    pub fn parse(payload: &str) -> Self {
        let Ok(p) = serde_json::from_str::<Payload>(payload) else {
            return Self::All;
        };
        match p {
            Payload {
                tokens: Some(hashes),
                users: None,
                clients: None,
                all: None,
            } => hashes
                .iter()
                .map(|h| {
                    let mut out = [0u8; 32];
                    hex::decode_to_slice(h, &mut out).ok().map(|()| out)
                })
                .collect::<Option<Vec<_>>>()
                .map_or(Self::All, Self::Tokens),
            Payload {
                tokens: None,
                users: Some(users),
                clients: None,
                all: None,
            } => Self::Users(users),
            Payload {
                tokens: None,
                users: None,
                clients: Some(clients),
                all: None,
            } => Self::Clients(clients),
            _ => Self::All,
        }
    }

    /// The `kind` label of the events metric.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Tokens(_) => "tokens",
            Self::Users(_) => "users",
            Self::Clients(_) => "clients",
            Self::All => "all",
        }
    }
}

/// How the listener keeps its subscription.
#[derive(Clone, Debug)]
pub struct ListenerSettings {
    /// The listener role's URL (its own Secret): it may connect and LISTEN, nothing else.
    pub url: SecretString,
    /// A subscription that does not answer a ping within this long is taken as lost.
    pub heartbeat: Duration,
}

/// Subscribes, applies events, and resubscribes whenever the subscription is lost; runs until
/// the task is aborted. `subscribed` tells whether events arrive (the cache is in use).
pub async fn listen(
    settings: ListenerSettings,
    verifier: Arc<Verifier>,
    metrics: GateMetrics,
    subscribed: watch::Sender<bool>,
) {
    const FIRST_RETRY: Duration = Duration::from_millis(100);
    const LAST_RETRY: Duration = Duration::from_secs(5);
    let mut retry = FIRST_RETRY;
    loop {
        match subscribe(&settings).await {
            Ok(subscription) => {
                tracing::info!(channel = CHANNEL, "revocation events subscribed");
                verifier.use_cache(true);
                metrics.revocations_subscribed(true);
                subscribed.send_replace(true);
                retry = FIRST_RETRY;
                let why = subscription.follow(&settings, &verifier, &metrics).await;
                verifier.use_cache(false);
                metrics.revocations_subscribed(false);
                subscribed.send_replace(false);
                tracing::warn!(
                    error = %why,
                    "revocation events lost: tokens are verified without the cache until they are back"
                );
            }
            Err(e) => tracing::warn!(error = %e, "subscribing to revocation events"),
        }
        // Not a wait for a condition: the pause between attempts at a database that is away.
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LAST_RETRY);
    }
}

struct Subscription {
    client: tokio_postgres::Client,
    events: mpsc::UnboundedReceiver<Result<String, tokio_postgres::Error>>,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Connects as the listener role and LISTENs; the connection's messages arrive in `events`.
async fn subscribe(settings: &ListenerSettings) -> anyhow::Result<Subscription> {
    let connect = tokio_postgres::connect(settings.url.expose_secret(), NoTls);
    let (client, mut connection) = tokio::time::timeout(settings.heartbeat, connect)
        .await
        .map_err(|_| anyhow::anyhow!("connecting took longer than {:?}", settings.heartbeat))?
        .map_err(|e| anyhow::anyhow!("connecting: {e}"))?;
    let (tx, events) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            let event = match message {
                Ok(AsyncMessage::Notification(n)) => Ok(n.payload().to_owned()),
                Ok(_) => continue,
                Err(e) => Err(e),
            };
            let failed = event.is_err();
            if tx.send(event).is_err() || failed {
                return;
            }
        }
    });
    let subscription = Subscription {
        client,
        events,
        driver,
    };
    tokio::time::timeout(
        settings.heartbeat,
        subscription
            .client
            .batch_execute(&format!("LISTEN {CHANNEL}")),
    )
    .await
    .map_err(|_| anyhow::anyhow!("LISTEN took longer than {:?}", settings.heartbeat))?
    .map_err(|e| anyhow::anyhow!("LISTEN: {e}"))?;
    Ok(subscription)
}

impl Subscription {
    /// Applies events until the subscription fails; returns why.
    async fn follow(
        mut self,
        settings: &ListenerSettings,
        verifier: &Verifier,
        metrics: &GateMetrics,
    ) -> anyhow::Error {
        let mut ping = tokio::time::interval(settings.heartbeat);
        ping.tick().await;
        loop {
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(Ok(payload)) => {
                        let revocation = Revocation::parse(&payload);
                        metrics.revocation(revocation.kind());
                        if let Err(e) = verifier.revoke(&revocation) {
                            return e;
                        }
                    }
                    Some(Err(e)) => return anyhow::anyhow!("the connection failed: {e}"),
                    None => return anyhow::anyhow!("the connection closed"),
                },
                _ = ping.tick() => {
                    let answered = tokio::time::timeout(
                        settings.heartbeat,
                        self.client.simple_query("SELECT 1"),
                    )
                    .await;
                    match answered {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return anyhow::anyhow!("ping failed: {e}"),
                        Err(_) => return anyhow::anyhow!("no answer to a ping in {:?}", settings.heartbeat),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_events_the_triggers_send() {
        let hash = "ab".repeat(32);
        assert_eq!(
            Revocation::parse(&format!(r#"{{"tokens":["{hash}"]}}"#)),
            Revocation::Tokens(vec![[0xab; 32]])
        );
        assert_eq!(
            Revocation::parse(r#"{"users":["u1","u2"]}"#),
            Revocation::Users(vec!["u1".into(), "u2".into()])
        );
        assert_eq!(
            Revocation::parse(r#"{"clients":["c1"]}"#),
            Revocation::Clients(vec!["c1".into()])
        );
        assert_eq!(Revocation::parse(r#"{"all":true}"#), Revocation::All);
    }

    #[test]
    fn an_event_not_understood_drops_everything() {
        for payload in [
            "",
            "not json",
            r#"{"tokens":["not hex"]}"#,
            r#"{"tokens":["abcd"]}"#,
            r#"{"users":["u"],"clients":["c"]}"#,
            r#"{"sessions":["s"]}"#,
            "{}",
        ] {
            assert_eq!(Revocation::parse(payload), Revocation::All, "{payload}");
        }
    }
}
