//! The gatekeeper's own HTTP/1.1 path against hyper's server, on the same bytes: a request the
//! own path keeps (rather than handing the connection to hyper) must be one hyper reads too,
//! with the same method and target and the same body bytes, ending at the same place — else
//! the two would disagree on where the next request starts (request smuggling). A head the own
//! path still waits for must not be a request to hyper yet.
#![no_main]

use ehealth_fuzz::{default_table, hyper_server_reads};
use gatekeeper::h1_fuzzing::{Taken, takes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match takes(data, default_table()) {
        Taken::Hyper => {}
        Taken::More => {
            let hyper = hyper_server_reads(data);
            assert!(
                hyper.is_none(),
                "the own path waits for the head, hyper read {hyper:?}"
            );
        }
        Taken::Kept(kept) => {
            let hyper = hyper_server_reads(data);
            // A target http's URI type refuses is answered 400 by both (the own path when it
            // builds the upstream request).
            if http::uri::PathAndQuery::try_from(kept.target.as_str()).is_err() {
                assert!(
                    hyper.is_none(),
                    "hyper read a target the own path refuses: {kept:?}"
                );
                return;
            }
            let Some(hyper) = hyper else {
                panic!("the own path keeps a request hyper refuses: {kept:?}");
            };
            assert_eq!(hyper.method, kept.method);
            assert_eq!(hyper.target, kept.target);
            let body = &data[kept.head_len..];
            let whole = body.len() >= kept.body_len;
            let expected = &body[..kept.body_len.min(body.len())];
            assert_eq!(hyper.body.data, expected, "body of {kept:?}");
            assert_eq!(
                hyper.body.complete, whole,
                "body end of {kept:?}: {hyper:?}"
            );
        }
    }
});
