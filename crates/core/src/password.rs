//! Human passwords: the reference's policy and argon2id hashing. Hashing and verifying are
//! CPU-heavy (tens of milliseconds); callers run them on a blocking thread.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

pub const MIN_LENGTH: usize = 12;

/// One violated rule: (`rule`, description), in the 422 `invalid[]` vocabulary.
pub type Violation = (&'static str, &'static str);

/// At least 12 characters with a lower-case letter, an upper-case letter and a digit
/// (Cyrillic letters count, as in the reference's regex).
pub fn check_policy(password: &str) -> Result<(), Vec<Violation>> {
    let mut v = Vec::new();
    if password.chars().count() < MIN_LENGTH {
        v.push(("length", "should be at least 12 character(s)"));
    }
    let lower = password.chars().any(char::is_lowercase);
    let upper = password.chars().any(char::is_uppercase);
    let digit = password.chars().any(|c| c.is_ascii_digit());
    if !(lower && upper && digit) {
        v.push(("format", "Password does not meet complexity requirements"));
    }
    if v.is_empty() { Ok(()) } else { Err(v) }
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// An argon2id PHC string with a fresh random salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the PHC string `hash`. Anything unparsable is a mismatch.
pub fn verify(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// Whether `password` matches `hash`; without a hash (no such account) it checks against a
/// fixed hash of the same cost and says no, so that an unknown address costs what a wrong
/// password costs and a caller cannot tell them apart by time.
pub fn verify_or_pretend(password: &str, hash: Option<&str>) -> bool {
    static STAND_IN: std::sync::LazyLock<Option<String>> = std::sync::LazyLock::new(|| {
        self::hash("a stand-in for an account that does not exist").ok()
    });
    match hash {
        Some(hash) => verify(password, hash),
        None => {
            if let Some(stand_in) = STAND_IN.as_deref() {
                verify(password, stand_in);
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(check_policy("Correct1horse").is_ok());
        assert!(check_policy("Пароль1довгий").is_ok());
        assert_eq!(check_policy("Short1a").unwrap_err()[0].0, "length");
        assert_eq!(check_policy("alllowercase12").unwrap_err()[0].0, "format");
        assert_eq!(check_policy("ALLUPPERCASE12").unwrap_err()[0].0, "format");
        assert_eq!(
            check_policy("NoDigitsAtAllHere").unwrap_err()[0].0,
            "format"
        );
    }

    #[test]
    fn hash_and_verify() {
        let h = hash("Correct1horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Correct1horse", &h));
        assert!(!verify("Correct1horsf", &h));
        assert!(!verify("Correct1horse", "!"));
        assert!(verify_or_pretend("Correct1horse", Some(&h)));
        assert!(!verify_or_pretend("Correct1horse", None));
    }
}
