//! TLS on the proxy port: the certificate and key from `tls.cert_file` / `tls.key_file`
//! (PEM), ALPN h2 and http/1.1. The pair is re-read on SIGHUP and when either file changes
//! (polled at `routes.watch_interval_ms`), so a rotated certificate (cert-manager, a renewed
//! ACME certificate) is served without a restart; new handshakes get the new pair, open
//! connections keep theirs. A pair that does not load (unreadable, not PEM, key not matching the
//! certificate) keeps the one in force and logs why; at start-up it is an error.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::reload::{ReloadStatus, file_stamp, now_rfc3339, on_hup_or_change};
use crate::settings::TlsSettings;

type Stamp = Option<(SystemTime, u64)>;

/// The pair in force, and how to read it again.
pub struct Certificates {
    cert_file: String,
    key_file: String,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
    /// The files' (modified, len) as last read; the lock also serializes reloads.
    seen: Mutex<(Stamp, Stamp)>,
    /// Pairs loaded (1 at start-up) and the last failure, for whoever waits for a reload.
    status: watch::Sender<ReloadStatus>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("cert_file", &self.cert_file)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

impl Certificates {
    /// `None` when no certificate is configured; an error when the pair does not load.
    pub fn load(settings: &TlsSettings) -> anyhow::Result<Option<Arc<Self>>> {
        match (settings.cert_file.is_empty(), settings.key_file.is_empty()) {
            (true, true) => return Ok(None),
            (false, false) => {}
            _ => anyhow::bail!("tls.cert_file and tls.key_file must be set together"),
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let seen = (
            file_stamp(&settings.cert_file),
            file_stamp(&settings.key_file),
        );
        let pair = read_pair(&settings.cert_file, &settings.key_file, &provider)?;
        Ok(Some(Arc::new(Self {
            cert_file: settings.cert_file.clone(),
            key_file: settings.key_file.clone(),
            provider,
            current: ArcSwap::from_pointee(pair),
            seen: Mutex::new(seen),
            status: watch::Sender::new(ReloadStatus {
                generation: 1,
                loaded_at: Some(now_rfc3339()),
                last_error: None,
            }),
        })))
    }

    /// The acceptor every worker uses: this pair (as it changes), ALPN h2 and http/1.1.
    pub fn acceptor(self: &Arc<Self>) -> anyhow::Result<TlsAcceptor> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Pairs loaded so far and the last failure, as they change.
    pub fn subscribe(&self) -> watch::Receiver<ReloadStatus> {
        self.status.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Stamp, Stamp)> {
        match self.seen.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Reads the pair again and puts it in force, or keeps the one in force and says why.
    pub fn reload(&self) -> anyhow::Result<()> {
        let mut seen = self.lock();
        *seen = (file_stamp(&self.cert_file), file_stamp(&self.key_file));
        match read_pair(&self.cert_file, &self.key_file, &self.provider) {
            Ok(pair) => {
                self.current.store(Arc::new(pair));
                self.status.send_modify(|s| {
                    s.generation += 1;
                    s.loaded_at = Some(now_rfc3339());
                    s.last_error = None;
                });
                tracing::info!(cert_file = %self.cert_file, "TLS certificate reloaded");
                Ok(())
            }
            Err(e) => {
                tracing::error!(cert_file = %self.cert_file, error = format!("{e:#}"), "TLS certificate rejected; keeping the one in force");
                self.status
                    .send_modify(|s| s.last_error = Some(format!("{e:#}")));
                Err(e)
            }
        }
    }

    fn changed(&self) -> bool {
        let now = (file_stamp(&self.cert_file), file_stamp(&self.key_file));
        now.0.is_some() && now.1.is_some() && now != *self.lock()
    }

    /// Runs until the process ends: SIGHUP and (when `interval` > 0) file polling.
    pub async fn watch(self: Arc<Self>, interval: Duration) {
        on_hup_or_change(
            interval,
            "the TLS certificate",
            || self.changed(),
            || {
                let _ = self.reload();
            },
        )
        .await;
    }
}

fn read_pair(
    cert_file: &str,
    key_file: &str,
    provider: &CryptoProvider,
) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading certificates from {cert_file}"))?;
    anyhow::ensure!(!chain.is_empty(), "{cert_file}: no certificate");
    let key = PrivateKeyDer::from_pem_file(key_file)
        .with_context(|| format!("reading the private key from {key_file}"))?;
    CertifiedKey::from_der(chain, key, provider)
        .context("the TLS certificate and key do not form a usable pair")
}
