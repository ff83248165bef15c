//! The credentials every test deployment runs with, as make run, compose and k8s do: an admin
//! token on the internal APIs, the gatekeeper's service token on auth-token's verify endpoints,
//! and an identity signing key. Tests that call a service directly sign the identity headers
//! they set with [`signed`], as the gatekeeper would.

use ehealth_core::identity_signature::{SIGNATURE_HEADER, SIGNED_HEADERS, SigningKey};
use platform::settings::{AdminSettings, IdentitySettings};
use reqwest::RequestBuilder;

pub const ADMIN_TOKEN: &str = "testkit-admin-token-0000000000000000";
/// A second admin token: the one a rotation brings in.
pub const NEXT_ADMIN_TOKEN: &str = "testkit-admin-token-1111111111111111";
pub const SERVICE_TOKEN: &str = "testkit-service-token-2222222222222222";
pub const SIGNING_KEY: &str = "testkit-identity-signing-key-33333333333333";

pub fn admin_settings() -> AdminSettings {
    AdminSettings {
        tokens: vec![ADMIN_TOKEN.to_owned().into()],
        token_sha256: Vec::new(),
    }
}

pub fn identity_settings() -> IdentitySettings {
    IdentitySettings {
        signing_keys: vec![SIGNING_KEY.to_owned().into()],
        ..IdentitySettings::default()
    }
}

/// The request with the admin token.
pub fn admin(builder: RequestBuilder) -> RequestBuilder {
    builder.bearer_auth(ADMIN_TOKEN)
}

/// The request with its identity headers signed by [`SIGNING_KEY`], now. Call it last: the
/// signature covers the method, the URL's path and query, and the identity headers as set.
pub fn signed(builder: RequestBuilder) -> RequestBuilder {
    signed_with(builder, SIGNING_KEY, now())
}

/// As [`signed`], with another key or time (the refusal tests).
pub fn signed_with(builder: RequestBuilder, key: &str, time: i64) -> RequestBuilder {
    let (client, request) = builder.build_split();
    let mut request = match request {
        Ok(r) => r,
        Err(e) => panic!("building the request to sign: {e}"),
    };
    let key = match SigningKey::new(key.as_bytes()) {
        Ok(k) => k,
        Err(e) => panic!("{e}"),
    };
    let url = request.url();
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let values = SIGNED_HEADERS.map(|name| request.headers().get(name).map(|v| v.as_bytes()));
    let signature = key.identity(values).header(
        time,
        request.method().as_str().as_bytes(),
        target.as_bytes(),
    );
    let value = match reqwest::header::HeaderValue::from_bytes(signature.as_bytes()) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    request.headers_mut().insert(SIGNATURE_HEADER, value);
    RequestBuilder::from_parts(client, request)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
