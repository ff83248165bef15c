//! What the proxy's transports and the ops handlers share, one per process: the settings, the
//! route table in force, the verifier and limiter, the signing key. It depends on the parts it
//! holds and on nothing that serves requests, so the modules that do (`server`,
//! `h1`, `proxy`, `ops`) and [`crate::startup`], which builds it,
//! all point here and not at each other.

use std::sync::Arc;

use arc_swap::ArcSwap;
use ehealth_core::identity_signature::SigningKey;

use crate::Settings;
use crate::forwarded::TrustedProxies;
use crate::gate::Deps;
use crate::metrics::GateMetrics;
use crate::ratelimit::Limiter;
use crate::reload::Reloader;
use crate::table::RouteTable;
use crate::verify::Verifier;

/// What the proxy and ops handlers share (one per process).
pub struct Gate {
    pub settings: Settings,
    pub table: Arc<ArcSwap<RouteTable>>,
    pub reloader: Arc<Reloader>,
    pub verifier: Arc<Verifier>,
    pub limiter: Limiter,
    /// For ABAC calls.
    pub http: reqwest::Client,
    pub metrics: GateMetrics,
    pub trusted_proxies: TrustedProxies,
    /// Signs the identity headers sent upstream (the first configured key).
    pub signer: Option<SigningKey>,
    /// The public contract of the table in force (`/openapi.json`, `/docs` on the proxy port).
    pub public_docs: crate::public_doc::PublicDocs,
    /// Set on SIGTERM: HTTP/1.1 answers close their connections ([`platform::shutdown`]).
    pub draining: platform::shutdown::Draining,
}

impl Gate {
    pub fn deps(&self) -> Deps<'_> {
        Deps {
            settings: &self.settings,
            verifier: &self.verifier,
            limiter: &self.limiter,
            http: &self.http,
            metrics: &self.metrics,
        }
    }
}
