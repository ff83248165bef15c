//! The gatekeeper's path normalization and route matching: a normalized path is canonical
//! (normalizing it again changes nothing; no empty, `.` or `..` segment; no escape of `/`, `\`
//! or NUL), and a route it matches holds it under the route's prefix, segment-wise, so that what
//! the upstream is sent stays under the prefix too.
#![no_main]

use ehealth_fuzz::default_table;

use gatekeeper::path::normalize;
use gatekeeper::table::{HttpMethod, Lookup};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(path) = normalize(raw) else {
        return;
    };
    assert_eq!(
        normalize(&path).as_deref(),
        Ok(path.as_str()),
        "idempotent: {raw:?}"
    );
    assert!(path.starts_with('/'), "{path:?}");
    let inner = path.strip_suffix('/').unwrap_or(&path);
    for segment in inner.split('/').skip(1) {
        assert!(
            !matches!(segment, "" | "." | ".."),
            "segment {segment:?} in {path:?}"
        );
    }
    let upper = path.to_ascii_uppercase();
    assert!(
        !upper.contains("%2F") && !upper.contains("%5C") && !upper.contains("%00"),
        "{path:?}"
    );
    for method in [
        HttpMethod::Get,
        HttpMethod::Post,
        HttpMethod::Patch,
        HttpMethod::Delete,
    ] {
        if let Lookup::Found(m) = default_table().lookup(Some(method), &path) {
            let under = path == m.prefix
                || m.prefix == "/"
                || path
                    .strip_prefix(m.prefix)
                    .is_some_and(|rest| rest.starts_with('/'));
            assert!(under, "{path:?} matched under {:?}", m.prefix);
            let upstream = m.route.upstream_path(m.prefix, &path);
            assert!(upstream.starts_with('/'), "{upstream:?}");
            assert!(!upstream.split('/').any(|s| s == ".."), "{upstream:?}");
        }
    }
});
