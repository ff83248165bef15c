//! `POST /auth/login`, grant password: the checks of §3.5 in order.

use reqwest::{Method, Response};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

async fn login(w: &World, email: &str, password: &str, client: Uuid, scope: &str) -> Response {
    w.app
        .auth_req(Method::POST, "/auth/login")
        .json(&json!({"token": {"grant_type": "password", "email": email, "password": password, "client_id": client, "scope": scope}}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_check_in_order() {
    let w = world().await;
    let res = login(&w, &w.email, PASSWORD, Uuid::now_v7(), "app:authorize").await;
    assert_error(res, 401, "invalid_client", Some("Invalid client id.")).await;

    let owner = w
        .app
        .user(&format!("o-{}@example.com", Uuid::now_v7()))
        .await;
    let no_password = w
        .app
        .client(
            owner,
            "Auth_FE",
            json!({"access_type": "DIRECT"}),
            &["authorization_code"],
        )
        .await;
    let res = login(&w, &w.email, PASSWORD, no_password, "app:authorize").await;
    assert_error(
        res,
        401,
        "access_denied",
        Some("Client is not allowed to issue login token."),
    )
    .await;

    let res = login(&w, "nobody@example.com", PASSWORD, w.front, "app:authorize").await;
    assert_error(res, 401, "access_denied", Some("User not found.")).await;

    let cabinet = w
        .app
        .client(
            owner,
            "CABINET",
            json!({"access_type": "DIRECT"}),
            &["password"],
        )
        .await;
    let res = login(&w, &w.email, PASSWORD, cabinet, "app:authorize").await;
    assert_error(res, 403, "forbidden", Some("User is not registered")).await;

    let res = login(&w, &w.email, "Wrong1password", w.front, "app:authorize").await;
    assert_error(
        res,
        401,
        "access_denied",
        Some("Identity, password combination is wrong."),
    )
    .await;

    let res = login(
        &w,
        &w.email,
        PASSWORD,
        w.front,
        "app:authorize connection:read",
    )
    .await;
    assert_error(
        res,
        422,
        "request_malformed",
        Some("Scope is not allowed by client type."),
    )
    .await;

    // E-mail matching is case-insensitive (citext).
    let res = login(
        &w,
        &w.email.to_uppercase(),
        PASSWORD,
        w.front,
        "app:authorize",
    )
    .await;
    assert_eq!(res.status(), 201);

    w.app
        .exec(&format!(
            "UPDATE users SET password_set_at = now() - interval '91 days' WHERE id = '{}'",
            w.user
        ))
        .await;
    let res = login(&w, &w.email, PASSWORD, w.front, "app:authorize").await;
    assert_error(
        res,
        401,
        "password_expired",
        Some(&format!("The password expired for user: {}", w.user)),
    )
    .await;
    // change_password still works with an expired password, for exactly its scope.
    let change = |scope: &str| {
        w.app
            .auth_req(Method::POST, "/auth/login")
            .json(
                &json!({"token": {"grant_type": "change_password", "email": w.email,
            "password": PASSWORD, "client_id": w.front, "scope": scope}}),
            )
            .send()
    };
    let res = change("app:authorize").await.unwrap();
    assert_error(
        res,
        401,
        "access_denied",
        Some("Allowed scopes for the token are user:change_password."),
    )
    .await;
    let res = change("user:change_password").await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(json_of(res).await["data"]["name"], "change_password_token");

    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/users/{}/actions/block", w.user),
            None,
        )
        .await;
    let res = login(&w, &w.email, PASSWORD, w.front, "app:authorize").await;
    assert_error(res, 401, "user_blocked", Some("User blocked.")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_failures_in_ten_minutes_lock_login_out() {
    let w = world().await;
    for _ in 0..10 {
        let res = login(&w, &w.email, "Wrong1password", w.front, "app:authorize").await;
        assert_error(
            res,
            401,
            "access_denied",
            Some("Identity, password combination is wrong."),
        )
        .await;
    }
    let res = login(&w, &w.email, PASSWORD, w.front, "app:authorize").await;
    assert_error(
        res,
        401,
        "access_denied",
        Some("You reached login attempts limit. Try again later"),
    )
    .await;
    // Failures older than the period do not count.
    w.app
        .exec("UPDATE login_failures SET failed_at = now() - interval '11 minutes'")
        .await;
    let res = login(&w, &w.email, PASSWORD, w.front, "app:authorize").await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        w.app
            .count("SELECT count(*) AS n FROM login_failures")
            .await,
        0,
        "a success clears them"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_login_expires_the_previous_token_of_that_client() {
    let w = world().await;
    let first = json_of(w.login().await).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(w.verify(&first, None).await.status(), 200);
    let second = json_of(w.login().await).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(w.verify(&second, None).await.status(), 200);
    let res = w.verify(&first, None).await;
    assert_error(
        res,
        401,
        "invalid_grant",
        Some("Token expired or client approval was revoked."),
    )
    .await;
}
