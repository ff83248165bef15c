//! Operator credentials on the internal APIs (ARCHITECTURE.md, trust boundaries).
//!
//! A service names, per path, who may call it ([`Access`]): anyone, an operator holding an admin
//! token, or also a service holding a service token (the gatekeeper's calls to auth-token's
//! verify endpoints). The check runs before routing, so an unknown `/admin` path answers 401 to
//! a caller without the credential, not 404: the internal route table is not revealed.
//!
//! Tokens are kept only as their SHA-256 and compared in constant time against every configured
//! hash (two during a rotation). With no admin token configured, the internal APIs are open, as
//! the reference's are; `make run`, compose and the k8s base always configure them.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use anyhow::Context;
use ehealth_core::SecretHash;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::ApiError;
use crate::settings::AdminSettings;

/// The 401 messages of a refused credential (the gatekeeper tells them from a refused token).
pub const CREDENTIAL_REQUIRED: &str = "Admin credential required.";
pub const CREDENTIAL_INVALID: &str = "Invalid admin credential.";

/// The SHA-256 of each accepted token.
#[derive(Clone, Debug, Default)]
pub struct Credentials(Vec<SecretHash>);

impl Credentials {
    pub fn from_settings(s: &AdminSettings) -> anyhow::Result<Self> {
        let mut hashes = Self::of_tokens(&s.tokens)?.0;
        for (i, hex_digest) in s.token_sha256.iter().enumerate() {
            let bytes = hex::decode(hex_digest.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .with_context(|| format!("admin.token_sha256[{i}] is not 64 hex digits"))?;
            hashes.push(SecretHash(bytes));
        }
        Ok(Self(hashes))
    }

    /// From token values; an empty value is refused (it would admit an empty bearer).
    pub fn of_tokens(tokens: &[SecretString]) -> anyhow::Result<Self> {
        tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let t = t.expose_secret().trim();
                anyhow::ensure!(
                    t.len() >= 16,
                    "credential #{i} is shorter than 16 characters"
                );
                Ok(SecretHash::of(t))
            })
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `presented` is one of the tokens; every configured hash is compared, each in
    /// constant time.
    pub fn admit(&self, presented: &str) -> bool {
        let hash = SecretHash::of(presented);
        self.0.iter().fold(false, |found, h| {
            found | bool::from(h.as_bytes().ct_eq(hash.as_bytes()))
        })
    }
}

/// Who may call a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Open,
    /// An admin token.
    Admin,
    /// An admin or a service token.
    AdminOrService,
}

/// The services' policy: everything under `/admin` is for operators.
pub fn admin_paths(path: &str) -> Access {
    if path == "/admin" || path.starts_with("/admin/") {
        Access::Admin
    } else {
        Access::Open
    }
}

/// The check every request passes before routing (app data of [`crate::server::app`]).
#[derive(Clone)]
pub struct AdminGuard {
    admin: Arc<Credentials>,
    service: Arc<Credentials>,
    policy: fn(&str) -> Access,
}

impl AdminGuard {
    pub fn new(admin: Credentials, service: Credentials, policy: fn(&str) -> Access) -> Self {
        Self {
            admin: Arc::new(admin),
            service: Arc::new(service),
            policy,
        }
    }

    /// The services' guard: `/admin` for admin tokens from `settings`, no service tokens.
    pub fn for_admin_paths(settings: &AdminSettings) -> anyhow::Result<Self> {
        Ok(Self::new(
            Credentials::from_settings(settings)?,
            Credentials::default(),
            admin_paths,
        ))
    }

    /// No credential anywhere (tests that build an app by hand).
    pub fn open() -> Self {
        Self::new(Credentials::default(), Credentials::default(), |_| {
            Access::Open
        })
    }

    fn check(&self, path: &str, authorization: Option<&[u8]>) -> Result<(), ApiError> {
        let accepted: &[&Credentials] = match (self.policy)(path) {
            Access::Open => return Ok(()),
            Access::Admin => &[&self.admin],
            Access::AdminOrService => &[&self.admin, &self.service],
        };
        if accepted.iter().all(|c| c.is_empty()) {
            return Ok(());
        }
        let token = authorization
            .and_then(bearer)
            .ok_or_else(|| ApiError::access_denied(CREDENTIAL_REQUIRED).with_www_authenticate())?;
        if accepted.iter().any(|c| c.admit(token)) {
            Ok(())
        } else {
            Err(ApiError::access_denied(CREDENTIAL_INVALID).with_www_authenticate())
        }
    }
}

/// The token of `Bearer <token>` (scheme in any case).
fn bearer(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Middleware: refuses, before routing, a request its path's [`Access`] does not admit.
pub async fn require_credentials(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // The path as the router matches it: actix decodes percent-escapes of unreserved characters
    // before routing (`/%61dmin/x` reaches `/admin/x`), so the raw path would let such a
    // request past the policy.
    let routed = req.match_info().as_str();
    let verdict = match req.app_data::<AdminGuard>() {
        Some(guard) => guard.check(
            routed,
            req.headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .map(|v| v.as_bytes()),
        ),
        None => Ok(()),
    };
    match verdict {
        Ok(()) => Ok(next.call(req).await?.map_into_boxed_body()),
        Err(e) => Ok(req.error_response(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(tokens: &[&str]) -> Credentials {
        Credentials::of_tokens(
            &tokens
                .iter()
                .map(|t| SecretString::from(t.to_string()))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    const A: &str = "admin-token-aaaaaaaaaaaaaaaa";
    const B: &str = "admin-token-bbbbbbbbbbbbbbbb";
    const S: &str = "service-token-ssssssssssssss";

    fn policy(path: &str) -> Access {
        match path {
            "/admin/verify" => Access::AdminOrService,
            p => admin_paths(p),
        }
    }

    #[test]
    fn two_admin_tokens_during_a_rotation_and_service_tokens_only_where_named() {
        let g = AdminGuard::new(creds(&[A, B]), creds(&[S]), policy);
        let auth = |t: &str| format!("Bearer {t}");
        assert!(g.check("/admin/x", Some(auth(A).as_bytes())).is_ok());
        assert!(g.check("/admin/x", Some(auth(B).as_bytes())).is_ok());
        assert!(
            g.check("/admin/x", Some(b"bearer admin-token-aaaaaaaaaaaaaaaa"))
                .is_ok()
        );
        assert!(g.check("/admin/x", Some(auth(S).as_bytes())).is_err());
        assert!(g.check("/admin/verify", Some(auth(S).as_bytes())).is_ok());
        assert!(g.check("/admin/verify", Some(auth(A).as_bytes())).is_ok());
        assert!(g.check("/admin/x", None).is_err());
        assert!(g.check("/admin/x", Some(b"Basic abc")).is_err());
        assert!(
            g.check("/admin", Some(b"Bearer nope-nope-nope-nope"))
                .is_err()
        );
        assert!(g.check("/api/x", None).is_ok());
        assert!(g.check("/administrator", None).is_ok());
    }

    #[test]
    fn nothing_configured_is_open_and_short_tokens_are_refused() {
        let g = AdminGuard::new(Credentials::default(), Credentials::default(), policy);
        assert!(g.check("/admin/x", None).is_ok());
        assert!(Credentials::of_tokens(&[SecretString::from("short".to_string())]).is_err());
    }

    #[test]
    fn hashes_may_be_configured_instead_of_tokens() {
        let digest = hex::encode(SecretHash::of(A).as_bytes());
        let c = Credentials::from_settings(&AdminSettings {
            tokens: vec![],
            token_sha256: vec![digest],
        })
        .unwrap();
        assert!(c.admit(A));
        assert!(!c.admit(B));
        assert!(
            Credentials::from_settings(&AdminSettings {
                tokens: vec![],
                token_sha256: vec!["zz".into()],
            })
            .is_err()
        );
    }
}
