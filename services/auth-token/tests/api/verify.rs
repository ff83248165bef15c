//! `GET /admin/tokens/{token}/verify` (the gatekeeper's contract, §1.4) and `/user`.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn unknown_expired_blocked() {
    let w = world().await;
    let (access, refresh) = w.access().await;
    assert_error(
        w.verify("no-such-token", Some(&w.api_key)).await,
        404,
        "not_found",
        None,
    )
    .await;
    // Only access tokens verify: a refresh token or a code is unknown here.
    assert_error(
        w.verify(&refresh, Some(&w.api_key)).await,
        404,
        "not_found",
        None,
    )
    .await;
    let code = w.code().await;
    assert_error(
        w.verify(&code, Some(&w.api_key)).await,
        404,
        "not_found",
        None,
    )
    .await;

    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/clients/{}", w.msp),
            Some(json!({"client": {"is_blocked": true}})),
        )
        .await;
    assert_error(
        w.verify(&access, Some(&w.api_key)).await,
        401,
        "invalid_client",
        Some("Authentication failed."),
    )
    .await;
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/clients/{}", w.msp),
            Some(json!({"client": {"is_blocked": false}})),
        )
        .await;
    assert_eq!(w.verify(&access, Some(&w.api_key)).await.status(), 200);

    // Blocking a user expires the user's tokens, so verify says expired; a user blocked
    // without that (directly in the table) is refused as blocked.
    w.app
        .exec(&format!(
            "UPDATE users SET is_blocked = true WHERE id = '{}'",
            w.user
        ))
        .await;
    assert_error(
        w.verify(&access, Some(&w.api_key)).await,
        401,
        "invalid_user",
        Some("Authentication failed."),
    )
    .await;
    w.app
        .exec(&format!(
            "UPDATE users SET is_blocked = false WHERE id = '{}'",
            w.user
        ))
        .await;
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/users/{}/actions/block", w.user),
            None,
        )
        .await;
    assert_error(
        w.verify(&access, Some(&w.api_key)).await,
        401,
        "invalid_grant",
        Some("Token expired or client approval was revoked."),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_clients_need_a_bound_api_key() {
    let w = world().await;
    let (access, _) = w.access().await;
    assert_error(
        w.verify(&access, None).await,
        422,
        "request_malformed",
        Some("API-KEY header required."),
    )
    .await;
    assert_error(
        w.verify(&access, Some("not-a-secret")).await,
        422,
        "request_malformed",
        Some("API-KEY header is invalid."),
    )
    .await;

    // A MIS that does not integrate this MSP cannot use its own valid key for the MSP's tokens.
    let owner = w
        .app
        .user(&format!("o-{}@example.com", Uuid::now_v7()))
        .await;
    let stranger = w
        .app
        .client(
            owner,
            "MIS",
            json!({"access_type": "DIRECT", "broker_scope": "connection:read"}),
            &[],
        )
        .await;
    let (_, stranger_key) = w
        .app
        .connection(stranger, stranger, "https://stranger.example.com")
        .await;
    assert_error(
        w.verify(&access, Some(&stranger_key)).await,
        422,
        "request_malformed",
        Some("API-KEY header is invalid."),
    )
    .await;

    // The integrating MIS without broker settings.
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/clients/{}", w.mis),
            Some(json!({"client": {"priv_settings": {"access_type": "DIRECT"}}})),
        )
        .await;
    assert_error(
        w.verify(&access, Some(&w.api_key)).await,
        422,
        "request_malformed",
        Some("Incorrect broker settings."),
    )
    .await;
    w.app
        .exec(&format!(
            "UPDATE clients SET priv_settings = '{{}}' WHERE id = '{}'",
            w.msp
        ))
        .await;
    assert_error(
        w.verify(&access, Some(&w.api_key)).await,
        401,
        "access_denied",
        Some("Client settings must contain access_type."),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_user_with_roles() {
    let w = world().await;
    let (access, _) = w.access().await;
    let res = w
        .app
        .auth_req(Method::GET, &format!("/admin/tokens/{access}/user"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["data"]["id"], w.user.to_string());
    assert!(body["data"].get("password").is_none());
    assert_eq!(body["data"]["urgent"]["roles"][0]["name"], "OWNER");
    assert_eq!(body["data"]["urgent"]["global_roles"], json!([]));
    assert!(
        body["data"]["urgent"]["token"]["expires_at"]
            .as_i64()
            .unwrap()
            > chrono::Utc::now().timestamp()
    );
    let res = w
        .app
        .auth_req(Method::GET, "/admin/tokens/nope/user")
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found", None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_verify_names_the_client_and_its_type_scope() {
    let w = world().await;
    let check = |key: Option<&str>| {
        let mut r = w.app.auth_req(Method::GET, "/admin/api_keys/verify");
        if let Some(k) = key {
            r = r.header("api-key", k);
        }
        r.send()
    };
    let res = check(Some(&w.api_key)).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["data"]["details"]["client_id"], w.mis.to_string());
    assert_eq!(body["urgent"]["mis_client_id"], w.mis.to_string());
    let scope = body["data"]["consumer_scope"].as_str().unwrap();
    assert!(scope.split(' ').any(|s| s == "connection:read"), "{scope}");
    assert_eq!(body["data"]["details"]["scope"], scope);
    assert!(body["data"].get("user_id").is_none());

    let res = check(None).await.unwrap();
    assert_error(res, 401, "access_denied", Some("API-KEY header required.")).await;
    let res = check(Some("not-a-known-key")).await.unwrap();
    assert_error(res, 404, "not_found", None).await;
    w.app
        .exec(&format!(
            "UPDATE clients SET is_blocked = true WHERE id = '{}'",
            w.mis
        ))
        .await;
    let res = check(Some(&w.api_key)).await.unwrap();
    assert_error(res, 401, "invalid_client", Some("Authentication failed.")).await;
}
