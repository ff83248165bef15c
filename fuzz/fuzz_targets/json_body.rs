//! The services' JSON body decoder (platform's `decode_body`, behind every `ValidatedJson`):
//! any bytes are a value or a refusal, and every refusal is a 4xx, never a 500, for a wrapped
//! body (`{"client": {...}}`, mithril-api's client create) and a plain one (a connection upsert).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use platform::json::decode_body;
use platform::{RequestSchema, Schemas};

#[derive(serde::Deserialize)]
#[serde(transparent)]
struct Client(#[allow(dead_code)] serde_json::Value);

impl RequestSchema for Client {
    const SCHEMA: &'static str = "client_create";
    const WRAPPER: Option<&'static str> = Some("client");
}

#[derive(serde::Deserialize)]
#[serde(transparent)]
struct Upsert(#[allow(dead_code)] serde_json::Value);

impl RequestSchema for Upsert {
    const SCHEMA: &'static str = "connection_upsert";
    const WRAPPER: Option<&'static str> = None;
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        Schemas::compile(&[
            (
                "client_create",
                include_str!("../../proto-contracts/schemas/client_create.json"),
            ),
            (
                "connection_upsert",
                include_str!("../../proto-contracts/schemas/connection_upsert.json"),
            ),
        ])
        .expect("the schemas compile")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Err(e) = decode_body::<Client>(data, schemas()) {
        assert!(e.status().is_client_error(), "{e}");
    }
    if let Err(e) = decode_body::<Upsert>(data, schemas()) {
        assert!(e.status().is_client_error(), "{e}");
    }
});
