//! `POST /oauth/apps/authorize`: every check of §3.2 in order, with its message.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn each_check_in_order() {
    let w = world().await;
    let ok = json!({"client_id": w.msp, "redirect_uri": REDIRECT, "scope": SCOPE});

    let res = w
        .app
        .auth_req(Method::POST, "/oauth/apps/authorize")
        .json(&json!({"app": ok}))
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        401,
        "access_denied",
        Some("Missing header x-consumer-id"),
    )
    .await;

    let res = w
        .authorize(json!({"client_id": Uuid::now_v7(), "redirect_uri": REDIRECT, "scope": SCOPE}))
        .await;
    assert_error(res, 401, "access_denied", Some("Invalid client id.")).await;

    let res = w.authorize(json!({"redirect_uri": REDIRECT})).await;
    let body = assert_error(res, 422, "validation_failed", None).await;
    assert_eq!(body["error"]["invalid"][0]["entry"], "$.client_id");

    let res = w.authorize(json!({"client_id": w.msp, "redirect_uri": "https://unregistered.example.com", "scope": SCOPE})).await;
    assert_error(
        res,
        401,
        "access_denied",
        Some("The redirection URI provided does not match a pre-registered value."),
    )
    .await;
    let res = w.authorize(json!({"client_id": w.msp, "redirect_uri": "https://evil/x?https://mis.example.com/callback", "scope": SCOPE})).await;
    assert_error(
        res,
        401,
        "access_denied",
        Some("The redirection URI provided does not match a pre-registered value."),
    )
    .await;

    let res = w
        .authorize(json!({"client_id": w.msp, "redirect_uri": REDIRECT}))
        .await;
    assert_error(
        res,
        422,
        "request_malformed",
        Some("Requested scope is empty. Scope not passed or user has no roles or global roles."),
    )
    .await;
    let res = w
        .authorize(json!({"client_id": w.msp, "redirect_uri": REDIRECT, "scope": "  "}))
        .await;
    assert_error(
        res,
        422,
        "request_malformed",
        Some("Requested scope is empty. Scope not passed or user has no roles or global roles."),
    )
    .await;

    let res = w.authorize(json!({"client_id": w.msp, "redirect_uri": REDIRECT, "scope": "connection:read legal_entity:mis_verify"})).await;
    assert_error(
        res,
        422,
        "request_malformed",
        Some("Scope is not allowed by client type."),
    )
    .await;

    // MSP allows declaration:read, but OWNER (the user's role) does not grant it.
    let res = w.authorize(json!({"client_id": w.msp, "redirect_uri": REDIRECT, "scope": "connection:read declaration_request:sign"})).await;
    assert_error(
        res,
        422,
        "request_malformed",
        Some("User requested scope that is not allowed by role based access policies."),
    )
    .await;

    assert_eq!(
        w.app.count("SELECT count(*) AS n FROM apps").await,
        0,
        "nothing approved by failed requests"
    );
    assert_eq!(
        w.app
            .count("SELECT count(*) AS n FROM tokens WHERE name = 'authorization_code'")
            .await,
        0
    );

    // Blocked client and user.
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/clients/{}", w.msp),
            Some(json!({"client": {"is_blocked": true}})),
        )
        .await;
    let res = w.authorize(ok.clone()).await;
    assert_error(res, 401, "access_denied", Some("Client is blocked.")).await;
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/clients/{}", w.msp),
            Some(json!({"client": {"is_blocked": false}})),
        )
        .await;
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/users/{}/actions/block", w.user),
            None,
        )
        .await;
    let res = w.authorize(ok.clone()).await;
    assert_error(res, 401, "user_blocked", Some("User blocked.")).await;
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/users/{}/actions/unblock", w.user),
            None,
        )
        .await;
    let res = w
        .app
        .auth_req(Method::POST, "/oauth/apps/authorize")
        .header("x-consumer-id", Uuid::now_v7().to_string())
        .json(&json!({"app": ok}))
        .signed()
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "access_denied", Some("User not found.")).await;

    let res = w.authorize(ok).await;
    assert_eq!(res.status(), 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_client_without_scope_gets_the_role_scopes() {
    let trusted = Uuid::now_v7();
    let w = world_with(move |s| s.authorize.trusted_client_ids = vec![trusted]).await;
    let res = w
        .authorize(json!({"client_id": w.msp, "redirect_uri": REDIRECT}))
        .await;
    assert_eq!(res.status(), 422, "an untrusted client must name a scope");

    // A cabinet-like client with the trusted id; the user holds a global role.
    let owner = w
        .app
        .user(&format!("o-{}@example.com", Uuid::now_v7()))
        .await;
    let body = json!({"client": {"name": "Cabinet", "user_id": owner, "client_type_id": w.app.type_id("CABINET").await,
                                 "priv_settings": {"access_type": "DIRECT"}}});
    w.app
        .mithril(
            Method::PUT,
            &format!("/admin/clients/{trusted}"),
            Some(body),
        )
        .await;
    w.app
        .connection(trusted, trusted, "https://cabinet.example.com")
        .await;
    let role = w.app.role_id("CABINET").await;
    w.app
        .mithril(
            Method::POST,
            &format!("/admin/users/{}/global_roles", w.user),
            Some(json!({"global_user_role": {"role_id": role}})),
        )
        .await;
    let res = w
        .authorize(json!({"client_id": trusted, "redirect_uri": "https://cabinet.example.com"}))
        .await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    let scope = body["data"]["details"]["scope_request"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(scope.split(' ').any(|s| s == "app:authorize"), "{scope}");
    assert!(scope.split(' ').any(|s| s == "cabinet:read"), "{scope}");
}
