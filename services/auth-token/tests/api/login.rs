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

    // An unknown address is answered as a wrong password (the reference says "User not
    // found."): nothing about an account is said before its password is verified.
    let res = login(&w, "nobody@example.com", PASSWORD, w.front, "app:authorize").await;
    assert_error(
        res,
        401,
        "access_denied",
        Some("Identity, password combination is wrong."),
    )
    .await;

    let cabinet = w
        .app
        .client(
            owner,
            "CABINET",
            json!({"access_type": "DIRECT"}),
            &["password"],
        )
        .await;
    // Not registered in the cabinet: said only to the right password.
    let res = login(&w, &w.email, "Wrong1password", cabinet, "app:authorize").await;
    assert_error(
        res,
        401,
        "access_denied",
        Some("Identity, password combination is wrong."),
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
    // Blocked: said only to the right password.
    let res = login(&w, &w.email, "Wrong1password", w.front, "app:authorize").await;
    assert_error(
        res,
        401,
        "access_denied",
        Some("Identity, password combination is wrong."),
    )
    .await;
    let res = login(&w, &w.email, PASSWORD, w.front, "app:authorize").await;
    assert_error(res, 401, "user_blocked", Some("User blocked.")).await;
}

const LIMIT: &str = "You reached login attempts limit. Try again later";
const WRONG: &str = "Identity, password combination is wrong.";

#[tokio::test(flavor = "multi_thread")]
async fn an_address_without_an_account_locks_out_as_one_with_an_account() {
    let w = world().await;
    for email in [
        w.email.clone(),
        format!("nobody-{}@example.com", Uuid::now_v7()),
    ] {
        for _ in 0..10 {
            let res = login(&w, &email, "Wrong1password", w.front, "app:authorize").await;
            assert_error(res, 401, "access_denied", Some(WRONG)).await;
        }
        let res = login(&w, &email, PASSWORD, w.front, "app:authorize").await;
        assert_error(res, 401, "access_denied", Some(LIMIT)).await;
    }
    // An operator ends the account's lockout at once.
    let unlocked = w
        .app
        .mithril(
            Method::PATCH,
            &format!("/admin/users/{}/actions/unlock", w.user),
            None,
        )
        .await;
    assert_eq!(unlocked["data"]["id"], w.user.to_string());
    let res = login(&w, &w.email, PASSWORD, w.front, "app:authorize").await;
    assert_eq!(res.status(), 201);
    let res = w
        .app
        .mithril_req(
            Method::PATCH,
            &format!("/admin/users/{}/actions/unlock", Uuid::now_v7()),
        )
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found", None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_wrong_passwords_gets_at_most_the_limit_checked() {
    let w = world().await;
    let burst = (0..64).map(|_| login(&w, &w.email, "Wrong1password", w.front, "app:authorize"));
    let answers = futures_util::future::join_all(burst).await;
    let mut messages = std::collections::BTreeMap::<String, usize>::new();
    for res in answers {
        assert_eq!(res.status(), 401);
        let message = json_of(res).await["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        *messages.entry(message).or_default() += 1;
    }
    assert_eq!(messages.get(WRONG), Some(&10), "{messages:?}");
    assert_eq!(messages.get(LIMIT), Some(&54), "{messages:?}");
    assert_eq!(
        w.app
            .count("SELECT count(*) AS n FROM login_failures")
            .await,
        10
    );
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
