//! ABAC per rule: the request it gets, and allow, deny, malformed, failing and slow answers.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const PATIENT: &str = "7d3a8e0c-2f8e-4c55-9d0a-1c5e0b6a9f11";

#[tokio::test(flavor = "multi_thread")]
async fn abac_allow_deny_malformed_failing_and_slow() {
    let Setup { w, gw, abac, .. } = setup_with(|s| s.abac.timeout_ms = 300).await;
    let (token, _) = w.access().await;
    let get = |episode: &str, query: &str| {
        gw.authed(
            &w,
            &token,
            Method::GET,
            &format!("/api/patients/{PATIENT}/episodes/{episode}{query}"),
        )
        .send()
    };
    let body = echoed(
        get("allow", "?managing_organization_id=org-1&x=2")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        body["path"],
        format!("/api/patients/{PATIENT}/episodes/allow")
    );
    let sent = abac.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        sent,
        json!({
            "consumer": {"user_id": w.user.to_string(), "client_id": w.msp.to_string(), "mis_client_id": w.mis.to_string()},
            "resource": {"action": "read", "type": "episode", "id": "allow"},
            "contexts": [{"type": "patient", "id": PATIENT}, {"type": "managing_organization_id", "id": "org-1"}]
        })
    );
    // Without the opted-in query parameter the context is left out; contexts stay an array.
    echoed(get("allow", "").await.unwrap()).await;
    let sent = abac.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        sent["contexts"],
        json!([{"type": "patient", "id": PATIENT}])
    );

    let res = get("deny", "").await.unwrap();
    assert_error(res, 403, "forbidden", Some("Access denied")).await;
    // Only a literal true allows.
    let res = get("malformed", "").await.unwrap();
    assert_error(res, 403, "forbidden", Some("Access denied")).await;
    // ABAC failing or too slow is a dependency failure, not a denial and never an allow.
    let res = get("broken", "").await.unwrap();
    assert_eq!(res.headers()["retry-after"], "1");
    assert_error(
        res,
        503,
        "service_unavailable",
        Some("Access policy service is unavailable. Try later."),
    )
    .await;
    let res = get("slow", "").await.unwrap();
    assert_error(res, 503, "service_unavailable", None).await;
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gatekeeper_abac_duration_seconds_count{outcome=\"allow\"} 2"),
        "{metrics}"
    );
    assert_eq!(abac.seen.lock().unwrap().len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn abac_compat_flag_denies_on_failure() {
    let Setup { w, gw, .. } = setup_with(|s| s.dependencies.compat_statuses = true).await;
    let (token, _) = w.access().await;
    let res = gw
        .authed(
            &w,
            &token,
            Method::GET,
            &format!("/api/patients/{PATIENT}/episodes/broken"),
        )
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden", Some("Access denied")).await;
}
