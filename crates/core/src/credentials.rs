//! Bearer credentials (access/refresh tokens, authorization codes, connection secrets):
//! 32 random bytes from the OS RNG, base64url without padding (43 chars). Only the SHA-256 of a
//! value is ever stored; a value is shown once, in the response that created it.

use std::fmt;

use base64::Engine;
use sha2::{Digest, Sha256};

/// A freshly generated credential. `Debug` never prints the value.
pub struct SecretValue(String);

/// SHA-256 of a credential value: the only form that is stored or compared.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl SecretValue {
    /// Fails only if the OS RNG is unavailable.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(**redacted**)")
    }
}

impl SecretHash {
    pub fn of(value: &str) -> Self {
        Self(Sha256::digest(value.as_bytes()).into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_43_url_safe_chars_and_distinct() {
        let a = SecretValue::generate().unwrap();
        let b = SecretValue::generate().unwrap();
        assert_eq!(a.expose().len(), 43);
        assert!(
            a.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash(), SecretHash::of(a.expose()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
