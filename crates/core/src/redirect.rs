//! Redirect URIs: registered values must be `https://` with a host; matching keeps the
//! reference's "registered prefix, then an optional path or query" semantics (§3.7) but is
//! anchored at the start, which closes the reference's `https://evil/x?https://good` hole.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedirectUriError {
    #[error("must be an https URI")]
    NotHttps,
    #[error("is not a valid URI")]
    Invalid,
}

impl RedirectUri {
    pub fn parse(s: &str) -> Result<Self, RedirectUriError> {
        if !s.starts_with("https://") {
            return Err(RedirectUriError::NotHttps);
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(RedirectUriError::Invalid);
        }
        let url = url::Url::parse(s).map_err(|_| RedirectUriError::Invalid)?;
        if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
            return Err(RedirectUriError::Invalid);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `requested` is acceptable for this registered URI: equal to it (trailing
    /// slashes ignored), or it followed by `/...` or `?...`.
    pub fn matches(&self, requested: &str) -> bool {
        redirect_matches(&self.0, requested)
    }
}

/// The matcher on raw strings, for values read back from storage.
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if requested.contains(['\n', '\r']) {
        return false;
    }
    let base = registered.trim_end_matches('/');
    match requested.strip_prefix(base) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'),
        None => false,
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = RedirectUriError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RedirectUri> for String {
    fn from(r: RedirectUri) -> Self {
        r.0
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_requires_https_and_host() {
        assert!(RedirectUri::parse("https://example.com/cb").is_ok());
        assert_eq!(
            RedirectUri::parse("http://example.com"),
            Err(RedirectUriError::NotHttps)
        );
        assert_eq!(
            RedirectUri::parse("https://"),
            Err(RedirectUriError::Invalid)
        );
        assert_eq!(
            RedirectUri::parse("https://a b"),
            Err(RedirectUriError::Invalid)
        );
        assert_eq!(
            RedirectUri::parse("ftp://x"),
            Err(RedirectUriError::NotHttps)
        );
    }

    #[test]
    fn matcher_is_prefix_plus_path_or_query_anchored_at_start() {
        let r = RedirectUri::parse("https://good.com/").unwrap();
        assert!(r.matches("https://good.com"));
        assert!(r.matches("https://good.com/"));
        assert!(r.matches("https://good.com/cb?x=1"));
        assert!(r.matches("https://good.com?x=1"));
        assert!(!r.matches("https://good.com.evil.org"));
        assert!(!r.matches("https://evil/x?https://good.com"));
        assert!(!r.matches("https://good.comx"));
        assert!(!r.matches("https://good.com/\nx"));
    }
}
