//! The route table reloads on change and keeps the table in force when the new file is bad.

use reqwest::Method;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn hot_reload_good_then_bad_file() {
    let Setup { gw, upstreams, .. } = setup().await;
    let status = gw.ops_get("/routes").await;
    assert_eq!(status["data"]["generation"], 1);
    let res = gw.req(Method::GET, "/fresh/x").send().await.unwrap();
    assert_eq!(res.status(), 404);

    // A good file: picked up by the watcher, swapped in.
    let added = format!(
        "{}  - name: fresh\n    paths: [/fresh]\n    upstream: \"{}\"\n    auth: none\n",
        fill(ROUTES, &upstreams),
        upstreams.stub
    );
    std::fs::write(&gw.routes_file, &added).unwrap();
    reloaded(&gw, |s| s.generation == 2).await;
    assert_eq!(
        echoed(gw.req(Method::GET, "/fresh/x").send().await.unwrap()).await["path"],
        "/fresh/x"
    );

    // A bad file (a longer period allowing fewer requests): rejected, the table stays.
    let bad = added.replace(
        "rate_limit: {minute: 2}",
        "rate_limit: {second: 5, minute: 2}",
    );
    std::fs::write(&gw.routes_file, &bad).unwrap();
    reloaded(&gw, |s| s.last_error.is_some()).await;
    let status = gw.ops_get("/routes").await;
    assert_eq!(status["data"]["generation"], 2);
    let why = status["data"]["last_error"].as_str().unwrap();
    assert!(why.contains("minute (2) is below second (5)"), "{why}");
    assert_eq!(
        gw.req(Method::GET, "/fresh/x")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The explicit reload says why too.
    let res = gw.ops_post("/routes/reload", serde_json::json!({})).await;
    assert_error(res, 422, "invalid_route_file", None).await;

    // Unknown keys and broken regexes are rejected as well.
    for broken in [
        added.replace("auth: none\n", "auth: none\n    colour: blue\n"),
        added.replace("path: '/admin'", "path: '/admin('"),
    ] {
        std::fs::write(&gw.routes_file, &broken).unwrap();
        let res = gw.ops_post("/routes/reload", serde_json::json!({})).await;
        assert_eq!(res.status(), 422);
    }
    assert_eq!(gw.ops_get("/routes").await["data"]["generation"], 2);
}

#[test]
fn the_default_route_file_is_valid() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/config/gatekeeper.yaml"
    );
    let yaml = std::fs::read_to_string(path).unwrap();
    let ctx = gatekeeper::table::LoadContext {
        default_body_limit: 1 << 20,
    };
    let table = gatekeeper::table::RouteTable::parse(&yaml, &ctx).unwrap();
    assert_eq!(
        table.route_names(),
        [
            "client-connections",
            "oauth-tokens",
            "auth-login",
            "two-factor",
            "sign-in",
            "oauth-standard",
            "oauth-standard-get",
            "oauth-authorize",
            "employee-roles"
        ]
    );
    // And it agrees with the published schema.
    let schema: serde_json::Value = serde_json::from_str(include_str!(
        "../../../../proto-contracts/gatekeeper-routes.schema.json"
    ))
    .unwrap();
    let expanded = gatekeeper::table::expand_env(&yaml, |_| None).unwrap();
    let doc: serde_json::Value = serde_norway::from_str(&expanded).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&doc));
    let mut bad = doc.clone();
    bad["routes"][0]["colour"] = "blue".into();
    assert!(!validator.is_valid(&bad));
}
