//! One normalized path for routing, rules, ABAC and the upstream (spec §4 W7, §5.2 item 17).
//!
//! - percent-escapes of unreserved characters are decoded (`%41` is `A`), others are kept with
//!   upper-case hex;
//! - an escaped `/`, `\` or NUL is refused: it would let a path mean one thing to the rules and
//!   another to the upstream;
//! - empty segments collapse (`//`), `.` segments go, `..` removes the segment before it, and
//!   a `..` above the root is refused;
//! - a trailing slash is kept (rules may distinguish `/x` and `/x/`).

#[derive(Debug, PartialEq, Eq)]
pub struct BadPath;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Decodes unreserved escapes and upper-cases the rest.
fn canonical_escapes(raw: &str) -> Result<String, BadPath> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (hi, lo) = match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(h), Some(l)) => (hex(*h).ok_or(BadPath)?, hex(*l).ok_or(BadPath)?),
                _ => return Err(BadPath),
            };
            let decoded = hi << 4 | lo;
            if matches!(decoded, b'/' | b'\\' | 0) {
                return Err(BadPath);
            }
            if is_unreserved(decoded) {
                out.push(decoded as char);
            } else {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[hi as usize]));
                out.push(char::from(b"0123456789ABCDEF"[lo as usize]));
            }
            i += 3;
        } else if b == b'\\' || b < 0x21 || b == 0x7f {
            return Err(BadPath);
        } else {
            out.push(b as char);
            i += 1;
        }
    }
    Ok(out)
}

pub fn normalize(raw: &str) -> Result<String, BadPath> {
    if !raw.starts_with('/') || !raw.is_ascii() {
        return Err(BadPath);
    }
    // Fast path: nothing to decode, collapse or resolve.
    if !raw
        .bytes()
        .any(|b| b == b'%' || b == b'\\' || b < 0x21 || b == 0x7f)
        && !raw.contains("//")
        && !raw.split('/').any(|s| s == "." || s == "..")
    {
        return Ok(raw.to_owned());
    }
    let text = canonical_escapes(raw)?;
    let trailing = text.ends_with('/') && text.len() > 1;
    let mut segments: Vec<&str> = Vec::new();
    let mut last_was_dot = false;
    for seg in text.split('/') {
        last_was_dot = false;
        match seg {
            "" => {}
            "." => last_was_dot = true,
            ".." => {
                segments.pop().ok_or(BadPath)?;
                last_was_dot = true;
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(text.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() || ((trailing || last_was_dot) && !segments.is_empty()) {
        out.push('/');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        let ok = |a: &str, b: &str| assert_eq!(normalize(a).as_deref(), Ok(b), "{a}");
        ok("/api/clients", "/api/clients");
        ok("/", "/");
        ok("//api//clients/", "/api/clients/");
        ok("/api/./clients", "/api/clients");
        ok("/api/x/../clients", "/api/clients");
        ok("/api/clients/.", "/api/clients/");
        ok("/%61pi/clients", "/api/clients");
        ok("/api/a%2cb", "/api/a%2Cb");
        ok("/api/%2e%2e/x", "/x");
        for bad in [
            "api", "/..", "/a/../..", "/a%2Fb", "/a%5cb", "/a%00", "/a%zz", "/a%4", "/a b", "/a\\b",
        ] {
            assert_eq!(normalize(bad), Err(BadPath), "{bad}");
        }
    }
}
