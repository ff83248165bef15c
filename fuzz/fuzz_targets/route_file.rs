//! The route-file loader: any text is a table or an error (the running gatekeeper then keeps
//! the table in force), never a panic; a table that loads matches paths without one either.
#![no_main]

use gatekeeper::table::{HttpMethod, LoadContext, RouteTable};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ctx = LoadContext {
        default_body_limit: 1024,
    };
    if let Ok(table) = RouteTable::parse(text, &ctx) {
        for path in ["/", "/api/clients/x/connections", "/oauth/token", "/a/b/"] {
            let _ = table.lookup(Some(HttpMethod::Get), path);
            let _ = table.cors_route(path);
        }
    }
});
