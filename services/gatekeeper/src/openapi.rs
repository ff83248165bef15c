//! The ops port's OpenAPI document, completed as the wire has it ([`platform::openapi`]); its
//! committed snapshot is `proto-contracts/openapi/gatekeeper.json`.

use platform::Schemas;
use platform::openapi::{BodySchema, Contract};
use utoipa::OpenApi;

/// The served document.
pub fn document(schemas: &Schemas) -> anyhow::Result<serde_json::Value> {
    platform::openapi::wire(&ApiDoc::openapi(), schemas, &contract())
}

fn contract() -> Contract {
    Contract {
        access: crate::ops::access,
        identity: |_| false,
        actor: |_, _| false,
        bodies: vec![
            BodySchema::of::<crate::ops::PurgeRequest>(),
            BodySchema::of::<crate::ops::ExplainRequest>(),
        ],
        max_page_size: 1,
        uuid_lists: &[],
        own_form: |_| false,
        refusals: &[],
    }
}

/// The ops port's API. The proxy port has no API of its own: it routes per the route file.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "gatekeeper (ops port)",
        version = "0.1.0",
        description = "Operations of the eHealth gateway: verify-cache purge, decision explain, route table status and reload. Also /health, /ready, /metrics."
    ),
    paths(
        crate::ops::purge,
        crate::ops::explain,
        crate::ops::table,
        crate::ops::reload
    ),
    components(schemas(
        crate::ops::PurgeRequest,
        crate::ops::ExplainRequest,
        crate::ops::Explanation,
        ehealth_core::ErrorBody
    ))
)]
pub struct ApiDoc;
