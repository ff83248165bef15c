//! The public contract on the proxy port: one document of everything the gateway routes.

use gatekeeper::public_doc::{self, SERVICE_DOCUMENTS};
use gatekeeper::table::{LoadContext, RouteTable};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

const DEFAULT_ROUTES: &str = include_str!("../../../../deploy/config/gatekeeper.yaml");

fn default_document() -> Value {
    let table = RouteTable::parse(
        DEFAULT_ROUTES,
        &LoadContext {
            default_body_limit: 65536,
        },
    )
    .unwrap();
    let services: Vec<Value> = SERVICE_DOCUMENTS
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
    public_doc::document(&table, &services)
}

/// The committed document is the one the default route table and the services' committed
/// documents make: a change to either shows here. To refresh after an intended change:
/// `UPDATE_SNAPSHOTS=1 cargo test -p gatekeeper public`.
#[test]
fn the_committed_public_document_is_the_one_the_default_table_makes() {
    testkit::assert_openapi_snapshot(
        &default_document(),
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../proto-contracts/openapi/public.json"
        ),
    );
}

#[test]
fn public_operations_carry_the_routes_credentials_and_the_gateways_answers() {
    let doc = default_document();
    let paths = doc["paths"].as_object().unwrap();
    // Nothing internal, everything the default table routes for the three services.
    assert!(
        paths.keys().all(|p| !p.starts_with("/admin")),
        "{:?}",
        paths.keys()
    );
    let mut ops: Vec<String> = paths
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{m} {p}"))
        })
        .collect();
    ops.sort();
    assert_eq!(
        ops,
        [
            "delete /api/clients/{client_id}/connections/{connection_id}",
            "get /.well-known/oauth-authorization-server",
            "get /api/clients/{client_id}/connections",
            "get /api/clients/{client_id}/connections/{connection_id}",
            "get /api/employee_roles",
            "get /api/employee_roles/{id}",
            "get /oauth/authorize",
            "patch /api/clients/{client_id}/connections/{connection_id}",
            "patch /api/clients/{client_id}/connections/{connection_id}/actions/refresh_secret",
            "patch /api/employee_roles/{id}/actions/deactivate",
            "post /api/employee_roles",
            "post /auth/login",
            "post /oauth/apps/authorize",
            "post /oauth/introspect",
            "post /oauth/revoke",
            "post /oauth/token",
            "post /oauth/tokens",
            "post /oauth/users/actions/approve_factor",
            "post /oauth/users/actions/init_factor",
        ]
    );
    let op = |m: &str, p: &str| &doc["paths"][p][m];
    // Scopes come from the route table's rules.
    assert_eq!(
        op("get", "/api/clients/{client_id}/connections")["security"],
        serde_json::json!([{"oauth2": ["connection:read"]}])
    );
    assert_eq!(
        op(
            "patch",
            "/api/clients/{client_id}/connections/{connection_id}/actions/refresh_secret"
        )["security"],
        serde_json::json!([{"oauth2": ["connection:refresh_secret"]}])
    );
    assert_eq!(
        op("post", "/api/employee_roles")["security"],
        serde_json::json!([{"oauth2": ["employee_role:write"]}])
    );
    // The OAuth endpoints take no token; the gateway limits their rate.
    let tokens = op("post", "/oauth/tokens");
    assert_eq!(tokens["security"], serde_json::json!([]));
    assert!(tokens["responses"].get("429").is_some());
    assert!(
        tokens["responses"].get("401").is_some(),
        "auth-token's own 401s stay"
    );
    // Token routes: the gateway's 401 and 403 with its messages, the MIS's api-key, 502-504.
    let list = op("get", "/api/employee_roles");
    let unauthorized = list["responses"]["401"]["description"].as_str().unwrap();
    assert!(
        unauthorized.contains(gatekeeper::gate::NO_TOKEN),
        "{unauthorized}"
    );
    assert!(unauthorized.contains(gatekeeper::gate::INVALID_TOKEN));
    assert!(
        list["responses"]["403"]["description"]
            .as_str()
            .unwrap()
            .contains("Invalid scopes. Missing allowances")
    );
    assert!(
        list["responses"]["400"]["description"]
            .as_str()
            .unwrap()
            .contains("Request path is not valid.")
    );
    for status in ["502", "503", "504"] {
        assert!(list["responses"].get(status).is_some(), "{status}");
    }
    let params = list["parameters"].as_array().unwrap();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "api-key" && p["in"] == "header")
    );
    assert!(params.iter().all(|p| p["name"] != "x-consumer-id"));
    let scheme = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"];
    for scope in ["connection:read", "employee_role:write", "app:authorize"] {
        assert!(scheme["scopes"].get(scope).is_some(), "{scope}");
    }
    assert!(doc["components"]["schemas"].get("ErrorEnvelope").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_port_serves_the_document_and_its_page_without_a_token() {
    let Setup { gw, .. } = setup().await;
    let res = gw.req(Method::GET, "/openapi.json").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["info"]["title"], "eHealth gateway");
    // The test table routes /open to a stub without authentication: not a service's operation,
    // so not in the document; the document follows the table in force.
    assert!(
        doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .all(|p| !p.starts_with("/admin"))
    );
    let res = gw.req(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = res.text().await.unwrap();
    assert!(page.contains("eHealth gateway"));
    testkit::assert_offline_docs_page(&page);
    let res = gw
        .req(Method::GET, "/docs/swagger-ui-bundle.js")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().len() > 1_000_000);
    let res = gw.req(Method::HEAD, "/openapi.json").send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Only reads are the gateway's own; anything else goes to the routes (none here).
    let res = gw.req(Method::POST, "/openapi.json").send().await.unwrap();
    assert_eq!(res.status(), 404);
}
