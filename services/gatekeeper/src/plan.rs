//! The forwarding plan: what this hop drops, sets and rewrites on a request on its way up and
//! on an answer on its way down, written once. Both transports apply it: [`crate::h1`] writes
//! the upstream request as bytes, [`crate::proxy`] edits hyper's `HeaderMap` (as pingora's
//! filters run once for every kind of session). The differential test
//! (`tests/api/differential.rs`) sends the same requests through both.
//!
//! Up: the caller's headers go on except hop-by-hop ones, those its `Connection` lists, and
//! every identity or proxy claim ([`drops_upstream`]); then this hop's [`Upstream`] headers are
//! set. Down: the upstream's answer goes back except hop-by-hop headers and its request id and
//! traceparent ([`drops_downstream`]), which are this hop's ([`downstream`]).

use std::net::{IpAddr, SocketAddr};

use ehealth_core::identity_signature::{SIGNATURE_HEADER, Signature, SigningKey};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use platform::request_context::is_sane_request_id;

use crate::forwarded::TrustedProxies;
use crate::verify::Identity;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Whether a caller's header stays off the upstream request (`name` in lower case; the
/// `Connection`-listed ones are the transports' to add).
pub fn drops_upstream(name: &[u8]) -> bool {
    is_hop_by_hop_request(name) || is_identity_header(name)
}

/// Whether an upstream answer's header stays off the caller's answer (`name` in lower case).
pub fn drops_downstream(name: &[u8]) -> bool {
    is_hop_by_hop(name) || matches!(name, b"x-request-id" | b"traceparent")
}

/// A header value as this hop sets it: bytes it wrote, or a value made once and shared.
pub enum Value<'a> {
    Bytes(&'a [u8]),
    Header(&'a HeaderValue),
}

impl Value<'_> {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Bytes(b) => b,
            Self::Header(h) => h.as_bytes(),
        }
    }

    pub fn to_header(&self) -> Option<HeaderValue> {
        match self {
            Self::Bytes(b) => HeaderValue::from_bytes(b).ok(),
            Self::Header(h) => Some((*h).clone()),
        }
    }
}

/// The headers this hop sets on the upstream request.
pub struct Upstream<'a> {
    pub request_id: &'a [u8],
    pub traceparent: &'a [u8],
    pub forwarded: &'a Forwarded<'a>,
    /// `x-forwarded-host`: a trusted proxy's, else the caller's `Host`.
    pub forwarded_host: Option<&'a [u8]>,
    pub identity: Option<&'a Identity>,
    /// Over the identity, the method and the target as the upstream gets them.
    pub signature: Option<Signature>,
}

impl<'a> Upstream<'a> {
    /// The signature of `identity` for this request, when a key is configured.
    pub fn sign(
        identity: Option<&Identity>,
        key: Option<&SigningKey>,
        method: &[u8],
        target: &[u8],
    ) -> Option<Signature> {
        let (id, key) = (identity?, key?);
        Some(id.headers.signature(key, method, target))
    }

    /// Each header, in the order they are written.
    pub fn each(&self, mut set: impl FnMut(&'static str, Value<'_>)) {
        set("x-request-id", Value::Bytes(self.request_id));
        set("traceparent", Value::Bytes(self.traceparent));
        set("x-forwarded-for", Value::Header(&self.forwarded.for_));
        set("x-forwarded-proto", Value::Header(&self.forwarded.proto));
        if let Some(host) = self.forwarded_host {
            set("x-forwarded-host", Value::Bytes(host));
        }
        if let Some(id) = self.identity {
            for (name, value) in id.headers.iter() {
                set(name, Value::Header(value));
            }
        }
        if let Some(signature) = &self.signature {
            set(SIGNATURE_HEADER, Value::Bytes(signature.as_bytes()));
        }
    }
}

/// The headers this hop sets on every answer (its own and the upstream's).
pub fn downstream(request_id: &[u8], traceparent: &[u8], mut set: impl FnMut(&'static str, &[u8])) {
    set("x-request-id", request_id);
    set("traceparent", traceparent);
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), dropped in both directions (`name` in lower case).
/// Names are bytes: the own HTTP/1.1 path lower-cases them into a buffer without making a
/// `str` again.
pub(crate) fn is_hop_by_hop(name: &[u8]) -> bool {
    matches!(
        name,
        b"connection"
            | b"keep-alive"
            | b"proxy-authenticate"
            | b"proxy-authorization"
            | b"proxy-connection"
            | b"te"
            | b"trailer"
            | b"transfer-encoding"
            | b"upgrade"
    )
}

/// Request headers this hop drops besides the hop-by-hop ones: the client's `host` (the
/// upstream's is set from its URI), `content-length` (set from the body sent) and `expect`
/// (the 100-continue is answered here).
pub(crate) fn is_hop_by_hop_request(name: &[u8]) -> bool {
    is_hop_by_hop(name) || matches!(name, b"host" | b"content-length" | b"expect")
}

/// Headers only the gatekeeper may set (spec §4 W9), and those by which a proxy tells where a
/// request came from or what path it had: every inbound copy is dropped, so the services see
/// only what this hop sets (actix would take `Forwarded` over `x-forwarded-*` for the URL it
/// reports, and a `x-original-url` may steer a framework's routing).
pub fn is_identity_header(name: &[u8]) -> bool {
    name.starts_with(b"x-consumer-")
        || matches!(
            name,
            b"x-person-id"
                | b"x-mis-client-id"
                | b"x-client-id"
                | b"x-request-id"
                | b"traceparent"
                | b"forwarded"
                | b"x-real-ip"
                | b"x-original-url"
                | b"x-rewrite-url"
        )
        || name.starts_with(b"x-forwarded-")
}

/// A new request id: a UUID, hyphenated.
pub(crate) fn new_request_id(buf: &mut [u8; 36]) -> &str {
    uuid::Uuid::new_v4().hyphenated().encode_lower(buf)
}

/// The caller's `x-request-id` when it is sane.
pub(crate) fn sane_request_id(inbound: Option<&[u8]>) -> Option<&str> {
    inbound
        .and_then(|v| std::str::from_utf8(v).ok())
        .filter(|v| is_sane_request_id(v))
}

/// The caller's `x-request-id` when it is sane, else a new one.
pub(crate) fn request_id(inbound: Option<&[u8]>) -> HeaderValue {
    let mut buf = [0u8; 36];
    let id = match sane_request_id(inbound) {
        Some(id) => id,
        None => new_request_id(&mut buf),
    };
    HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("-"))
}

/// W3C trace context, as bytes: the caller's trace id when its `traceparent` is well formed,
/// with a new parent id for this hop; else a new trace ([`crate::spans`] puts the exported
/// span's ids in, while traces are exported).
pub(crate) fn traceparent_bytes(inbound: Option<&[u8]>) -> [u8; 55] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // 00-<32 hex trace id>-<16 hex parent id>-01
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-01";
    let inbound = inbound.filter(|v| {
        v.len() == 55
            && v.starts_with(b"00-")
            && v[35] == b'-'
            && v[52] == b'-'
            && v[3..35]
                .iter()
                .chain(&v[36..52])
                .chain(&v[53..])
                .all(u8::is_ascii_hexdigit)
            && v[3..35].iter().any(|&b| b != b'0')
    });
    match inbound {
        Some(v) => {
            for (o, i) in out[3..35].iter_mut().zip(&v[3..35]) {
                *o = i.to_ascii_lowercase();
            }
        }
        None => {
            let id = uuid::Uuid::new_v4().simple();
            let mut buf = [0u8; 32];
            out[3..35].copy_from_slice(id.encode_lower(&mut buf).as_bytes());
        }
    }
    let span = uuid::Uuid::new_v4().as_u64_pair().0;
    for (i, o) in out[36..52].iter_mut().enumerate() {
        *o = HEX[((span >> (60 - 4 * i)) & 0xf) as usize];
    }
    out
}

/// The connection's other end, as this hop sees it: its address, that address as the last
/// `x-forwarded-for` entry (made once per connection), whether it is a trusted proxy
/// ([`crate::forwarded`]) and the scheme it used.
pub struct Peer {
    pub addr: SocketAddr,
    pub forwarded_for: HeaderValue,
    pub trusted: bool,
    pub scheme: &'static str,
}

impl Peer {
    pub fn new(addr: SocketAddr, trusted_proxies: &TrustedProxies, tls: bool) -> Self {
        let forwarded_for = HeaderValue::from_str(&addr.ip().to_string())
            .unwrap_or(HeaderValue::from_static("unknown"));
        Self {
            addr,
            forwarded_for,
            trusted: trusted_proxies.contains(addr.ip()),
            scheme: if tls { "https" } else { "http" },
        }
    }

    /// The client's address: this peer, or behind a trusted proxy the one its
    /// `x-forwarded-for` names.
    pub(crate) fn client(&self, headers: &HeaderMap, trusted_proxies: &TrustedProxies) -> IpAddr {
        self.client_of(
            headers
                .get_all(X_FORWARDED_FOR)
                .iter()
                .map(HeaderValue::as_bytes),
            trusted_proxies,
        )
    }

    /// [`Self::client`] from the `x-forwarded-for` values as they came.
    pub(crate) fn client_of<'v>(
        &self,
        forwarded_for: impl Iterator<Item = &'v [u8]>,
        trusted_proxies: &TrustedProxies,
    ) -> IpAddr {
        if !self.trusted {
            return self.addr.ip();
        }
        let listed: Vec<&str> = forwarded_for.filter_map(header_str).collect();
        trusted_proxies.client(self.addr.ip(), &listed)
    }
}

/// A header value as text, when it is visible ASCII (as [`HeaderValue::to_str`] takes it).
pub(crate) fn header_str(v: &[u8]) -> Option<&str> {
    v.iter()
        .all(|&b| b == b'\t' || (32..127).contains(&b))
        .then(|| std::str::from_utf8(v).ok())
        .flatten()
}

/// This hop's `x-forwarded-*` values. A trusted proxy's account of the hops before it is
/// kept; anyone else's is dropped.
pub(crate) struct Forwarded<'p> {
    /// The peer's own entry when no trusted proxy came before it (borrowed: most requests).
    pub for_: std::borrow::Cow<'p, HeaderValue>,
    pub proto: HeaderValue,
    pub host: Option<HeaderValue>,
}

impl<'p> Forwarded<'p> {
    /// From the caller's `x-forwarded-for` values (all), `-proto` and `-host` (the first of
    /// each) and its own `Host`.
    pub(crate) fn new<'v>(
        peer: &'p Peer,
        prior_for: impl Iterator<Item = &'v [u8]>,
        proto: Option<&[u8]>,
        host: Option<&HeaderValue>,
        own_host: Option<HeaderValue>,
    ) -> Self {
        if !peer.trusted {
            return Self {
                for_: std::borrow::Cow::Borrowed(&peer.forwarded_for),
                proto: HeaderValue::from_static(peer.scheme),
                host: own_host,
            };
        }
        let mut v = Vec::new();
        for prior in prior_for {
            v.extend_from_slice(prior);
            v.extend_from_slice(b", ");
        }
        let for_ = if v.is_empty() {
            std::borrow::Cow::Borrowed(&peer.forwarded_for)
        } else {
            v.extend_from_slice(peer.forwarded_for.as_bytes());
            std::borrow::Cow::Owned(
                HeaderValue::from_bytes(&v).unwrap_or_else(|_| peer.forwarded_for.clone()),
            )
        };
        let proto = match proto {
            Some(b"https") => HeaderValue::from_static("https"),
            Some(b"http") => HeaderValue::from_static("http"),
            _ => HeaderValue::from_static(peer.scheme),
        };
        Self {
            for_,
            proto,
            host: host.cloned().or(own_host),
        }
    }
}
