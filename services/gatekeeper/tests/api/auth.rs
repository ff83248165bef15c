//! Authentication and authorization at the gate: every 401 and 403, the verify cache, purge,
//! dependency failures and explain.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const NO_TOKEN: &str = "Authorization header is not set or doesn't contain Bearer token";

async fn assert_401(res: reqwest::Response, message: &str) {
    assert_eq!(
        res.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some("Bearer")
    );
    assert_error(res, 401, "access_denied", Some(message)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_401() {
    let Setup { w, gw, .. } = setup().await;
    let (token, refresh) = w.access().await;
    // No header, another scheme, an empty token, two headers.
    assert_401(
        gw.req(Method::GET, "/echo/read").send().await.unwrap(),
        NO_TOKEN,
    )
    .await;
    let basic = gw
        .req(Method::GET, "/echo/read")
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_401(basic, NO_TOKEN).await;
    let bare = gw
        .req(Method::GET, "/echo/read")
        .header("authorization", token.clone())
        .send()
        .await
        .unwrap();
    assert_401(bare, NO_TOKEN).await;
    let two = gw
        .req(Method::GET, "/echo/read")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_401(two, NO_TOKEN).await;
    // A token with characters no token has never reaches auth-token; an unknown one is refused.
    let odd = gw
        .req(Method::GET, "/echo/read")
        .header("authorization", "Bearer a%2F..%3Fx")
        .send()
        .await
        .unwrap();
    assert_401(odd, "Invalid access token").await;
    let unknown = gw
        .authed(&w, "c29tZS11bmtub3duLXRva2Vu", Method::GET, "/echo/read")
        .send()
        .await
        .unwrap();
    assert_401(unknown, "Invalid access token").await;
    // A refresh token is not an access token.
    let r = gw
        .authed(&w, &refresh, Method::GET, "/echo/read")
        .send()
        .await
        .unwrap();
    assert_401(r, "Invalid access token").await;
    // A BROKER token without the MIS's api-key: auth-token's own message.
    let no_key = gw
        .req(Method::GET, "/echo/read")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_401(no_key, "API-KEY header required.").await;
    // An expired token.
    let (expired, _) = w.access().await;
    w.app
        .exec("UPDATE tokens SET expires_at = 1 WHERE name = 'access_token'")
        .await;
    let res = gw
        .authed(&w, &expired, Method::GET, "/echo/read")
        .send()
        .await
        .unwrap();
    assert_401(res, "Invalid access token").await;
    // Nothing of this was forwarded: the routes counter saw no "forwarded".
    assert!(!gw.metrics().await.contains("decision=\"forwarded\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn scheme_is_case_insensitive_and_auth_only_routes_need_no_rule() {
    let Setup { w, gw, .. } = setup().await;
    let (token, _) = w.access().await;
    let res = gw
        .req(Method::GET, "/authonly/anything")
        .header("authorization", format!("bEaReR {token}"))
        .header("api-key", &w.api_key)
        .send()
        .await
        .unwrap();
    let body = echoed(res).await;
    assert_eq!(body["path"], "/authonly/anything");
    assert_eq!(body["headers"]["x-consumer-id"], w.user.to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_403() {
    let Setup { w, gw, .. } = setup().await;
    let (token, _) = w.access().await;
    // No rule for this method and path.
    let res = gw
        .authed(&w, &token, Method::DELETE, "/echo/read")
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        403,
        "forbidden",
        Some("ACL: No matching rule was found for path /echo"),
    )
    .await;
    let res = gw
        .authed(&w, &token, Method::GET, "/echo/unknown")
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden", None).await;
    // Rules are anchored at both ends: '/admin' does not match '/administrator'.
    let res = gw
        .authed(&w, &token, Method::GET, "/echo/administrator")
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        403,
        "forbidden",
        Some("ACL: No matching rule was found for path /echo"),
    )
    .await;
    // Missing scopes, listed in rule order.
    let res = gw
        .authed(&w, &token, Method::GET, "/echo/admin")
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        403,
        "forbidden",
        Some("Invalid scopes. Missing allowances: connection:delete"),
    )
    .await;
    let res = gw
        .authed(&w, &token, Method::GET, "/echo/both")
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        403,
        "forbidden",
        Some("Invalid scopes. Missing allowances: connection:delete"),
    )
    .await;
    // The broker's scope narrows the token: the MIS may no longer write.
    let res = gw
        .authed(&w, &token, Method::GET, "/echo/writer")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/clients/{}", w.mis),
            Some(json!({"client": {"priv_settings": {"access_type": "DIRECT", "broker_scope": "connection:read"}}})),
        )
        .await;
    gw.purge(&token).await;
    let res = gw
        .authed(&w, &token, Method::GET, "/echo/writer")
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        403,
        "forbidden",
        Some("Invalid scopes. Missing allowances: connection:write"),
    )
    .await;
    let res = gw
        .authed(&w, &token, Method::GET, "/echo/read")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn cached_until_purged_then_revocation_shows() {
    let Setup { w, gw, .. } = setup().await;
    let call = |token: &str| {
        let req = gw.authed(&w, token, Method::GET, "/echo/read");
        async move { req.send().await.unwrap() }
    };
    let revoke_all = || async {
        let res = w
            .app
            .auth_req(
                Method::DELETE,
                &format!("/admin/tokens?user_ids={}", w.user),
            )
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.status());
    };
    let (token, _) = w.access().await;
    assert_eq!(call(&token).await.status(), 200);
    assert_eq!(call(&token).await.status(), 200);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gatekeeper_verify_cache_total{result=\"hit\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("gatekeeper_verify_cache_total{result=\"miss\"} 1"));
    // Revoked in auth-token: the cached answer still serves until purged.
    revoke_all().await;
    assert_eq!(call(&token).await.status(), 200);
    gw.purge(&token).await;
    assert_401(call(&token).await, "Invalid access token").await;
    // Purge everything: a bad body is a 422, nothing purged.
    let res = gw.ops_post("/cache/purge", json!({"nothing": true})).await;
    assert_eq!(res.status(), 422);
    // A fresh token, cached, then revoked: it serves until everything is purged.
    let (token, _) = w.access().await;
    assert_eq!(call(&token).await.status(), 200);
    revoke_all().await;
    assert_eq!(call(&token).await.status(), 200);
    let res = gw.ops_post("/cache/purge", json!({"all": true})).await;
    assert_eq!(json_of(res).await["data"]["purged"], "all");
    assert_401(call(&token).await, "Invalid access token").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cached_answers_expire() {
    let Setup { w, gw, .. } = setup_with(|s| s.verify.cache_ttl_secs = 1).await;
    let (token, _) = w.access().await;
    let status = || async {
        gw.authed(&w, &token, Method::GET, "/echo/read")
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(status().await, 200);
    w.app
        .exec("UPDATE tokens SET expires_at = 1 WHERE name = 'access_token'")
        .await;
    eventually(Duration::from_secs(5), || async { status().await == 401 }).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_token_down_is_503_not_401() {
    let dead = format!("http://127.0.0.1:{}", crate::stubs::closed_port());
    let Setup { w, gw, .. } = setup_with(|s| s.verify.url = dead.clone()).await;
    let res = gw
        .authed(&w, "c29tZS10b2tlbg", Method::GET, "/echo/read")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["retry-after"], "1");
    assert_error(
        res,
        503,
        "service_unavailable",
        Some("Authorization service is unavailable. Try later."),
    )
    .await;
    // The compatibility flag restores the reference's 401.
    let Setup { w, gw, .. } = setup_with(|s| {
        s.verify.url = dead.clone();
        s.dependencies.compat_statuses = true;
    })
    .await;
    let res = gw
        .authed(&w, "c29tZS10b2tlbg", Method::GET, "/echo/read")
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "access_denied", Some("Invalid access token")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_shows_the_decision_without_forwarding() {
    let Setup { w, gw, .. } = setup().await;
    let (token, _) = w.access().await;
    let res = gw
        .ops_post(
            "/explain",
            json!({"method": "GET", "path": "/echo/x/../admin?q=1", "token": token, "api_key": w.api_key}),
        )
        .await;
    let body = json_of(res).await;
    let d = &body["data"];
    assert_eq!(d["decision"], "deny", "{body}");
    assert_eq!(d["status"], 403);
    assert_eq!(d["trace"]["route"], "echo");
    assert_eq!(d["trace"]["normalized_path"], "/echo/admin");
    assert_eq!(d["trace"]["relative_path"], "/admin");
    assert_eq!(d["trace"]["rule"]["index"], 1);
    assert_eq!(d["trace"]["missing_scopes"], json!(["connection:delete"]));
    let res = gw
        .ops_post(
            "/explain",
            json!({"method": "GET", "path": "/echo/read", "token": token, "api_key": w.api_key}),
        )
        .await;
    assert_eq!(json_of(res).await["data"]["decision"], "allow");
    let res = gw
        .ops_post("/explain", json!({"method": "BREW", "path": "/"}))
        .await;
    assert_eq!(res.status(), 422);
    assert!(!gw.metrics().await.contains("decision=\"forwarded\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_routes_identify_the_client_without_a_user() {
    let Setup { w, gw, .. } = setup().await;
    let res = gw.req(Method::GET, "/mis/read").send().await.unwrap();
    assert_401(res, "Api key is not set").await;
    let res = gw
        .req(Method::GET, "/mis/read")
        .header("api-key", "nope")
        .send()
        .await
        .unwrap();
    assert_401(res, "Invalid api key").await;
    let body = echoed(
        gw.req(Method::GET, "/mis/read")
            .header("api-key", &w.api_key)
            .header("x-consumer-id", "00000000-0000-0000-0000-000000000000")
            .header("x-person-id", "evil")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let h = &body["headers"];
    assert_eq!(h["x-client-id"], w.mis.to_string());
    assert_eq!(h["x-mis-client-id"], w.mis.to_string());
    assert!(
        h["x-consumer-scope"]
            .as_str()
            .unwrap()
            .contains("connection:read")
    );
    assert!(
        h.get("x-consumer-id").is_none(),
        "no user on api-key routes: {h}"
    );
    assert!(h.get("x-person-id").is_none());
    // The client type's scope decides the rules.
    let res = gw
        .req(Method::GET, "/mis/roles")
        .header("api-key", &w.api_key)
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        403,
        "forbidden",
        Some("Invalid scopes. Missing allowances: employee_role:write"),
    )
    .await;
}
