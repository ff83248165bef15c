//! Rule matching: the route's one-pass rule set picks the same rule as trying each rule's
//! anchored regex in file order, and offers exactly the methods of the rules whose path
//! matches; a picked rule's regex covers the whole path relative to the route's prefix.
#![no_main]

use ehealth_fuzz::default_table;

use gatekeeper::path::normalize;
use gatekeeper::table::{HttpMethod, Lookup};
use libfuzzer_sys::fuzz_target;

const METHODS: [HttpMethod; 5] = [
    HttpMethod::Get,
    HttpMethod::Post,
    HttpMethod::Put,
    HttpMethod::Patch,
    HttpMethod::Delete,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(path) = normalize(raw) else {
        return;
    };
    let method = METHODS[pick as usize % METHODS.len()];
    let Lookup::Found(m) = default_table().lookup(Some(method), &path) else {
        return;
    };
    let route = m.route;
    if route.rules.is_empty() {
        return;
    }
    let relative = if m.prefix == "/" {
        &path[..]
    } else {
        &path[m.prefix.len()..]
    };
    let by_hand = route
        .rules
        .iter()
        .find(|r| r.methods.contains(method) && r.path.is_match(relative));
    let picked = route.find_rule(method, relative);
    assert_eq!(
        picked.map(|r| r.index),
        by_hand.map(|r| r.index),
        "{path:?} {method:?}"
    );
    if let Some(rule) = picked {
        let found = rule.path.find(relative).expect("it matched");
        assert_eq!(
            (found.start(), found.end()),
            (0, relative.len()),
            "{path:?}"
        );
    }
    for other in METHODS {
        let offered = route.methods_for(m.prefix, &path).contains(other);
        let by_hand = route.methods.contains(other)
            && route
                .rules
                .iter()
                .any(|r| r.methods.contains(other) && r.path.is_match(relative));
        assert_eq!(offered, by_hand, "{path:?} {other:?}");
    }
});
