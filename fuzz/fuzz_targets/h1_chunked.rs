//! The scanner that finds where an upstream's chunked answer ends, against hyper's client
//! decoder: where the scanner says the body ends, hyper's body ends too (with those bytes and
//! not one fewer); where it waits for more or refuses, hyper has not reached an end. Fed in two
//! parts, as reads arrive, the scanner ends at the same place as in one.
#![no_main]

use ehealth_fuzz::hyper_client_reads;
use gatekeeper::h1_fuzzing::ChunkScanner;
use libfuzzer_sys::fuzz_target;

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";

/// Scans `body` as the relay does: each call gets what is left unscanned plus what came next.
fn scan_in_parts(body: &[u8], split: usize) -> (std::io::Result<usize>, bool) {
    let mut scanner = ChunkScanner::default();
    let first = &body[..split.min(body.len())];
    let used = match scanner.scan(first) {
        Ok(n) => n,
        Err(e) => return (Err(e), false),
    };
    if scanner.done() {
        return (Ok(used), true);
    }
    match scanner.scan(&body[used..]) {
        Ok(n) => (Ok(used + n), scanner.done()),
        Err(e) => (Err(e), false),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else {
        return;
    };
    let mut scanner = ChunkScanner::default();
    let whole = scanner.scan(body);
    let done = scanner.done();
    let (parts, parts_done) = scan_in_parts(body, split as usize);
    match (&whole, &parts) {
        (Ok(a), Ok(b)) => assert_eq!((a, done), (b, parts_done), "in one and in two parts"),
        (Err(_), Err(_)) => {}
        _ => panic!("in one part {whole:?}, in two {parts:?}"),
    }
    match whole {
        Ok(end) if done => {
            let hyper = hyper_client_reads(HEAD, &body[..end]);
            assert!(
                hyper.complete,
                "the scanner ends the body at {end}, hyper: {hyper:?}"
            );
            let short = hyper_client_reads(HEAD, &body[..end - 1]);
            assert!(
                !short.complete,
                "hyper ends the body before {end}: {short:?}"
            );
        }
        _ => {
            let hyper = hyper_client_reads(HEAD, body);
            assert!(
                !hyper.complete,
                "hyper ends a body the scanner does not ({whole:?}): {hyper:?}"
            );
        }
    }
});
