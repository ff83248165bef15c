//! The ops port: health, readiness, metrics, the OpenAPI snapshot.

use reqwest::Method;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn health_ready_metrics_openapi() {
    let Setup { gw, .. } = setup().await;
    assert_eq!(gw.ops_get("/health").await["data"]["status"], "ok");
    let ready = gw
        .http
        .get(format!("{}/ready", gw.ops))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    // The proxy port has no ops routes: they would be routed (here: no route).
    let res = gw.req(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(res.status(), 404);
    // Three on one connection: each counted, the last two through the counter the
    // connection keeps.
    gw.req(Method::GET, "/open/x").send().await.unwrap();
    gw.req(Method::GET, "/open/x").send().await.unwrap();
    let res = gw.req(Method::GET, "/open/x").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(
            r#"gatekeeper_requests_total{decision="forwarded",route="open",status="200"} 3"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains(
        r#"gatekeeper_requests_total{decision="no_route",route="UNMATCHED",status="404"} 1"#
    ));
    let served = gw.ops_get("/openapi.json").await;
    testkit::assert_openapi_snapshot(
        &served,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../proto-contracts/openapi/gatekeeper.json"
        ),
    );
}

#[test]
fn the_binary_answers_help_and_version() {
    testkit::assert_cli(
        env!("CARGO_BIN_EXE_gatekeeper"),
        "gatekeeper",
        env!("CARGO_PKG_VERSION"),
        &["serve", "check-routes", "healthcheck"],
    );
}
