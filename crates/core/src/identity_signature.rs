//! The gatekeeper's signature over the identity headers it sets (ARCHITECTURE.md, trust
//! boundaries): the services believe `x-consumer-*` and friends only when this signature holds,
//! so a request that reaches a service without the gateway carries no identity it will believe.
//!
//! `x-consumer-signature: t=<unix seconds>,v1=<64 hex digits>`, where the digits are
//! HMAC-SHA256(key, message) and the message is `ehealth-identity-v1`, then each of
//! [`SIGNED_HEADERS`] in that order (its value, or a NUL byte when it is absent), the time and
//! the method, each followed by `\n`, and last the request target (path and query, as the
//! service receives it). Header values, methods and times cannot hold `\n` or NUL, so the
//! message is unambiguous. The identity comes first so that the gatekeeper computes its part
//! once per cached identity, not per request. The body is not covered: the identity does not
//! depend on it.
//!
//! The header's name starts with `x-consumer-`, so the gatekeeper drops every inbound copy as it
//! drops the identity headers themselves.

use std::fmt;

use hmac::{KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = hmac::Hmac<Sha256>;

pub const SIGNATURE_HEADER: &str = "x-consumer-signature";

/// The headers a signature covers, in the order the message lists them.
pub const SIGNED_HEADERS: [&str; 6] = [
    "x-consumer-id",
    "x-consumer-metadata",
    "x-consumer-scope",
    "x-client-id",
    "x-mis-client-id",
    "x-person-id",
];

/// Shortest key accepted: 32 bytes, as much as the MAC itself.
pub const MIN_KEY_LEN: usize = 32;

/// A signing key, keyed once (its inner and outer pads are computed here, not per request).
#[derive(Clone)]
pub struct SigningKey(HmacSha256);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("an identity signing key must be at least {MIN_KEY_LEN} bytes")]
    TooShort,
}

/// Why a request's identity is not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// Identity headers without `x-consumer-signature`.
    Missing,
    /// The header is not `t=…,v1=…`.
    Malformed,
    /// Signed longer ago (or further ahead) than the window allows.
    Expired,
    /// No configured key gives this signature.
    Mismatch,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(**redacted**)")
    }
}

impl SigningKey {
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort);
        }
        HmacSha256::new_from_slice(secret)
            .map(Self)
            .map_err(|_| KeyError::TooShort)
    }

    /// The MAC state after one identity's headers: the part of every signature that is the
    /// same from one request of that identity to the next (the gatekeeper keeps it with its
    /// cached verify answer). `values` are the [`SIGNED_HEADERS`]' values, in order.
    pub fn identity(&self, values: [Option<&[u8]>; 6]) -> IdentityMac {
        let mut mac = self.0.clone();
        mac.update(b"ehealth-identity-v1\n");
        for value in values {
            mac.update(value.unwrap_or(b"\0"));
            mac.update(b"\n");
        }
        IdentityMac(mac)
    }

    /// The MAC of one request.
    pub fn mac(
        &self,
        time: i64,
        method: &[u8],
        target: &[u8],
        values: [Option<&[u8]>; 6],
    ) -> [u8; 32] {
        self.identity(values).mac(time, method, target)
    }

    /// The header value for one request, as text (test harnesses, tools).
    pub fn sign(&self, time: i64, method: &str, target: &str, values: [Option<&str>; 6]) -> String {
        self.identity(values.map(|v| v.map(str::as_bytes)))
            .header(time, method.as_bytes(), target.as_bytes())
            .as_str()
            .to_owned()
    }
}

/// A key's MAC state after one identity's headers ([`SigningKey::identity`]).
#[derive(Clone)]
pub struct IdentityMac(HmacSha256);

impl fmt::Debug for IdentityMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityMac(**redacted**)")
    }
}

impl IdentityMac {
    /// The MAC of this identity on one request.
    pub fn mac(&self, time: i64, method: &[u8], target: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        let mut digits = [0u8; 20];
        mac.update(decimal(time, &mut digits));
        mac.update(b"\n");
        mac.update(method);
        mac.update(b"\n");
        mac.update(target);
        mac.finalize().into_bytes().into()
    }

    /// The header value for one request (on the stack: the gatekeeper signs every request
    /// that carries an identity).
    pub fn header(&self, time: i64, method: &[u8], target: &[u8]) -> Signature {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mac = self.mac(time, method, target);
        let mut sig = Signature {
            buf: [0; 96],
            len: 0,
        };
        let mut digits = [0u8; 20];
        sig.push(b"t=");
        sig.push(decimal(time, &mut digits));
        sig.push(b",v1=");
        for b in mac {
            sig.push(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        sig
    }
}

/// An `x-consumer-signature` value: `t=` (at most 19 digits), `,v1=` and 64 hex digits.
pub struct Signature {
    buf: [u8; 96],
    len: usize,
}

impl Signature {
    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits, letters, '=' and ',' are ever pushed.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// The keys a service believes (two during a rotation) and how old a signature may be.
#[derive(Clone, Debug)]
pub struct SignatureVerifier {
    keys: Vec<SigningKey>,
    max_age_secs: i64,
}

impl SignatureVerifier {
    pub fn new(keys: Vec<SigningKey>, max_age_secs: i64) -> Self {
        Self { keys, max_age_secs }
    }

    /// No key configured: identity headers are believed as they come (tests of one service
    /// alone, benchmarks). Every deployment this project ships configures one.
    pub fn is_enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Checks `header` (the request's `x-consumer-signature`) for this request at `now`.
    pub fn verify(
        &self,
        now: i64,
        method: &[u8],
        target: &[u8],
        values: [Option<&[u8]>; 6],
        header: Option<&[u8]>,
    ) -> Result<(), SignatureError> {
        if !self.is_enabled() {
            return Ok(());
        }
        let (time, mac) = parse(header.ok_or(SignatureError::Missing)?)?;
        if (now - time).abs() > self.max_age_secs {
            return Err(SignatureError::Expired);
        }
        // Constant time per key: no early exit on the first differing byte.
        let matches = self
            .keys
            .iter()
            .any(|key| bool::from(key.mac(time, method, target, values).ct_eq(&mac)));
        if matches {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// `t=<digits>,v1=<64 hex>` → (time, MAC).
fn parse(header: &[u8]) -> Result<(i64, [u8; 32]), SignatureError> {
    let text = std::str::from_utf8(header).map_err(|_| SignatureError::Malformed)?;
    let (t, v1) = text.split_once(',').ok_or(SignatureError::Malformed)?;
    let time = t
        .strip_prefix("t=")
        .filter(|d| !d.is_empty() && d.len() <= 18 && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<i64>().ok())
        .ok_or(SignatureError::Malformed)?;
    let hex = v1
        .strip_prefix("v1=")
        .filter(|h| h.len() == 64)
        .ok_or(SignatureError::Malformed)?;
    let mut mac = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(SignatureError::Malformed),
        };
        mac[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Ok((time, mac))
}

/// A non-negative time in decimal (negative times are written as 0: none is ever signed).
fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = n.max(0) as u64;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OTHER: &[u8] = b"fedcba9876543210fedcba9876543210";

    fn values<'a>(id: &'a str, meta: &'a str) -> [Option<&'a [u8]>; 6] {
        [
            Some(id.as_bytes()),
            Some(meta.as_bytes()),
            None,
            None,
            None,
            None,
        ]
    }

    fn verifier(keys: &[&[u8]]) -> SignatureVerifier {
        SignatureVerifier::new(
            keys.iter().map(|k| SigningKey::new(k).unwrap()).collect(),
            30,
        )
    }

    fn signed(key: &[u8], time: i64, target: &str, id: &str) -> String {
        SigningKey::new(key).unwrap().sign(
            time,
            "GET",
            target,
            [Some(id), Some("{}"), None, None, None, None],
        )
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(SigningKey::new(b"short").unwrap_err(), KeyError::TooShort);
    }

    #[test]
    fn a_signature_holds_for_exactly_what_it_signed() {
        let v = verifier(&[KEY]);
        let h = signed(KEY, 1000, "/api/x?a=1", "u1");
        assert!(h.starts_with("t=1000,v1=") && h.len() == 10 + 64, "{h}");
        let check = |method: &str, target: &str, id: &str, now: i64| {
            v.verify(
                now,
                method.as_bytes(),
                target.as_bytes(),
                values(id, "{}"),
                Some(h.as_bytes()),
            )
        };
        assert_eq!(check("GET", "/api/x?a=1", "u1", 1000), Ok(()));
        assert_eq!(check("GET", "/api/x?a=1", "u1", 1030), Ok(()));
        assert_eq!(
            check("GET", "/api/x?a=2", "u1", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check("POST", "/api/x?a=1", "u1", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check("GET", "/api/x?a=1", "u2", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check("GET", "/api/x?a=1", "u1", 1031),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            check("GET", "/api/x?a=1", "u1", 969),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn an_absent_header_differs_from_an_empty_one() {
        let key = SigningKey::new(KEY).unwrap();
        let absent = key.mac(1, b"GET", b"/", [None, None, None, None, None, None]);
        let empty = key.mac(1, b"GET", b"/", [Some(b""), None, None, None, None, None]);
        assert_ne!(absent, empty);
    }

    #[test]
    fn either_of_two_keys_verifies_during_a_rotation() {
        let v = verifier(&[KEY, OTHER]);
        for key in [KEY, OTHER] {
            let h = signed(key, 5, "/", "u");
            assert_eq!(
                v.verify(5, b"GET", b"/", values("u", "{}"), Some(h.as_bytes())),
                Ok(())
            );
        }
        let only_new = verifier(&[OTHER]);
        let h = signed(KEY, 5, "/", "u");
        assert_eq!(
            only_new.verify(5, b"GET", b"/", values("u", "{}"), Some(h.as_bytes())),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_and_missing_headers() {
        let v = verifier(&[KEY]);
        let check =
            |h: Option<&str>| v.verify(5, b"GET", b"/", values("u", "{}"), h.map(str::as_bytes));
        assert_eq!(check(None), Err(SignatureError::Missing));
        for bad in [
            "",
            "t=5",
            "t=,v1=00",
            "t=-5,v1=0000000000000000000000000000000000000000000000000000000000000000",
            "t=5,v1=000000000000000000000000000000000000000000000000000000000000000",
            "t=5,v1=000000000000000000000000000000000000000000000000000000000000000G",
            "t=5,v2=0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert_eq!(check(Some(bad)), Err(SignatureError::Malformed), "{bad}");
        }
        assert_eq!(
            verifier(&[]).verify(5, b"GET", b"/", values("u", "{}"), None),
            Ok(())
        );
    }
}
