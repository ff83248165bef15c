//! The request-id sanitizer: a caller's `x-request-id` is kept only when it is 1 to 128
//! characters of `[A-Za-z0-9._#:-]`, which is always a valid header value and log field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform::request_context::is_sane_request_id;

fuzz_target!(|data: &[u8]| {
    let Ok(id) = std::str::from_utf8(data) else {
        return;
    };
    if is_sane_request_id(id) {
        assert!(!id.is_empty() && id.len() <= 128);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        );
        assert!(http_header_value_ok(id), "{id:?}");
    }
});

/// RFC 9110 field-value characters (visible ASCII and space/tab).
fn http_header_value_ok(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}
