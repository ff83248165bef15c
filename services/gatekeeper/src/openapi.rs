use utoipa::OpenApi;

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
