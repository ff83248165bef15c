//! PKCE (RFC 7636), `S256` only: the challenge is the base64url (no padding) SHA-256 of the
//! verifier. `plain` is refused (RFC 9700 §2.1.1): it protects nothing once the authorization
//! request is seen.

use base64::Engine;
use sha2::{Digest, Sha256};

/// The only method accepted.
pub const S256: &str = "S256";

/// Why an authorization request's PKCE parameters are refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge_method must be S256")]
    Method,
    #[error("code_challenge must be 43 base64url characters (S256)")]
    Challenge,
}

/// A code challenge as stored with a code: 43 base64url characters (a SHA-256).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge(String);

impl Challenge {
    /// The pair from an authorization request. A challenge without a method would be `plain`
    /// (RFC 7636 §4.3): refused as well. `None` when neither is sent.
    pub fn from_request(
        challenge: Option<&str>,
        method: Option<&str>,
    ) -> Result<Option<Self>, PkceError> {
        match (challenge, method) {
            (None, None) => Ok(None),
            (_, Some(m)) if m != S256 => Err(PkceError::Method),
            (None, Some(_)) => Err(PkceError::Challenge),
            (Some(_), None) => Err(PkceError::Method),
            (Some(c), Some(_)) => Self::parse(c).map(Some),
        }
    }

    pub fn parse(s: &str) -> Result<Self, PkceError> {
        let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if s.len() == 43 && s.bytes().all(base64url) {
            Ok(Self(s.to_owned()))
        } else {
            Err(PkceError::Challenge)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` is the one this challenge was made from.
    pub fn is_met_by(&self, verifier: &str) -> bool {
        let digest = Sha256::digest(verifier.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == self.0
    }
}

/// A verifier's form (RFC 7636 §4.1): 43 to 128 unreserved characters.
pub fn is_verifier(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b_example() {
        let challenge = Challenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap();
        assert!(challenge.is_met_by("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!challenge.is_met_by("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"));
    }

    #[test]
    fn only_s256_with_a_well_formed_challenge() {
        let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(Challenge::from_request(None, None).unwrap().is_none());
        assert!(
            Challenge::from_request(Some(c), Some("S256"))
                .unwrap()
                .is_some()
        );
        assert_eq!(
            Challenge::from_request(Some(c), Some("plain")),
            Err(PkceError::Method)
        );
        assert_eq!(
            Challenge::from_request(Some(c), None),
            Err(PkceError::Method)
        );
        assert_eq!(
            Challenge::from_request(None, Some("S256")),
            Err(PkceError::Challenge)
        );
        assert_eq!(
            Challenge::from_request(Some("short"), Some("S256")),
            Err(PkceError::Challenge)
        );
        assert_eq!(
            Challenge::from_request(Some(&format!("{}=", &c[..42])), Some("S256")),
            Err(PkceError::Challenge)
        );
    }

    #[test]
    fn verifier_form() {
        assert!(is_verifier(&"a".repeat(43)));
        assert!(is_verifier(&"~._-".repeat(32)));
        assert!(!is_verifier(&"a".repeat(42)));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(42))));
    }
}
