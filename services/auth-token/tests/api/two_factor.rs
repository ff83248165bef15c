//! Two-factor login (spec §3.5, §3.6) against a stand-in SMS provider: every status and message
//! of the 2FA grants and factor actions, the OTP rules (hashed, single-use, expiry, attempts,
//! send throttle, block after wrong codes in a row) and the admin factor endpoints.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

const PHONE: &str = "+380501234567";
const NEW_PHONE: &str = "+380679876543";

/// The world's doctor with an active SMS factor on `PHONE`; returns the factor's id.
async fn with_factor(w: &World) -> Uuid {
    let res = factor_req(w, Method::POST, "")
        .json(&json!({"type": "SMS", "factor": PHONE}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert_eq!(body["data"]["factor"], PHONE);
    assert_eq!(body["data"]["is_active"], true);
    body["data"]["id"].as_str().unwrap().parse().unwrap()
}

fn factor_req(w: &World, method: Method, rest: &str) -> reqwest::RequestBuilder {
    w.app.mithril_req(
        method,
        &format!("/admin/users/{}/authentication_factors{rest}", w.user),
    )
}

async fn login_2fa(w: &World, bearer: Option<&str>, token: Value) -> Response {
    let mut r = w
        .app
        .auth_req(Method::POST, "/auth/login")
        .json(&json!({"token": token}));
    if let Some(b) = bearer {
        r = r.bearer_auth(b);
    }
    r.send().await.unwrap()
}

async fn with_code(w: &World, bearer: &str, otp: u32) -> Response {
    login_2fa(
        w,
        Some(bearer),
        json!({"grant_type": "authorize_2fa_access_token", "otp": otp}),
    )
    .await
}

/// A password login of a user with a factor: the 2FA token, with `next_step`.
async fn first_step(w: &World, next_step: &str) -> String {
    let res = w.login().await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert_eq!(body["data"]["name"], "2fa_access_token");
    assert_eq!(body["data"]["details"]["scope"], "");
    assert_eq!(body["data"]["details"]["scope_request"], "app:authorize");
    assert_eq!(body["urgent"]["next_step"], next_step);
    body["data"]["value"].as_str().unwrap().to_owned()
}

/// The user's count of wrong codes in a row.
async fn wrong_codes_in_a_row(w: &World) -> i64 {
    let sql = format!(
        "SELECT otp_error_counter::bigint AS n FROM users WHERE id = '{}'",
        w.user
    );
    w.app.count(&sql).await
}

fn code(w: &World, phone: &str) -> u32 {
    w.app.sms.last_code(phone).expect("a code was sent")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_then_the_code_sent_by_sms() {
    let w = world().await;
    with_factor(&w).await;
    let two_fa = first_step(&w, "REQUEST_OTP").await;
    let sent = w.app.sms.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["phone_number"], PHONE);
    assert_eq!(sent[0]["type"], "2FA");
    let code = code(&w, PHONE);
    assert!(
        sent[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("Код підтвердження: ")
    );
    // The 2FA token is good for nothing but the code.
    assert_ne!(w.verify(&two_fa, None).await.status(), 200);
    // Stored only as a hash: no column holds the code, and the hash is not the code's SHA-256.
    let dump = w
        .app
        .db
        .text("SELECT string_agg(row_to_json(o)::text, '') AS t FROM otps o")
        .await;
    assert!(!dump.contains(&format!("{code:06}")), "{dump}");

    let wrong = (code + 1) % 1_000_000;
    assert_error(
        with_code(&w, &two_fa, wrong).await,
        401,
        "otp_invalid",
        Some("Invalid OTP code."),
    )
    .await;
    let missing = login_2fa(
        &w,
        Some(&two_fa),
        json!({"grant_type": "authorize_2fa_access_token"}),
    )
    .await;
    assert_error(missing, 401, "otp_invalid", Some("Invalid OTP code.")).await;
    // JSON Schema's integer: 123456.0 is the code too.
    let res = login_2fa(
        &w,
        Some(&two_fa),
        json!({"grant_type": "authorize_2fa_access_token", "otp": f64::from(code)}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert_eq!(body["data"]["name"], "access_token");
    assert_eq!(body["data"]["details"]["scope"], "app:authorize");
    assert_eq!(body["urgent"]["next_step"], "REQUEST_APPS");
    let access = body["data"]["value"].as_str().unwrap().to_owned();
    assert_eq!(w.verify(&access, None).await.status(), 200);
    // Single-use: the 2FA token ended with the access token's issue.
    assert_error(
        with_code(&w, &two_fa, code).await,
        401,
        "token_expired",
        Some("Token expired."),
    )
    .await;
    // The right code ended the count of wrong ones (two were sent before it).
    assert_eq!(wrong_codes_in_a_row(&w).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bearer_of_the_2fa_grants() {
    let w = world().await;
    with_factor(&w).await;
    let grant = json!({"grant_type": "authorize_2fa_access_token", "otp": 123456});
    let res = login_2fa(&w, None, grant.clone()).await;
    assert_error(
        res,
        401,
        "access_denied",
        Some("Authorization header required."),
    )
    .await;
    let res = login_2fa(&w, Some("not-a-token"), grant.clone()).await;
    assert_error(res, 401, "token_invalid", Some("Invalid token.")).await;
    // A token of another kind.
    w.app
        .exec(&format!(
            "UPDATE authentication_factors SET is_active = false WHERE user_id = '{}'",
            w.user
        ))
        .await;
    let access = json_of(w.login().await).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = login_2fa(&w, Some(&access), grant.clone()).await;
    assert_error(res, 401, "token_invalid_type", Some("Invalid token type")).await;
    // Its kind is checked before its expiry, as the reference does.
    w.app
        .exec("UPDATE tokens SET expires_at = 1 WHERE name = 'access_token'")
        .await;
    let res = login_2fa(&w, Some(&access), grant.clone()).await;
    assert_error(res, 401, "token_invalid_type", Some("Invalid token type")).await;
    w.app
        .exec(&format!(
            "UPDATE authentication_factors SET is_active = true WHERE user_id = '{}'",
            w.user
        ))
        .await;
    // Expired.
    let two_fa = first_step(&w, "REQUEST_OTP").await;
    w.app
        .exec("UPDATE tokens SET expires_at = 1 WHERE name = '2fa_access_token'")
        .await;
    assert_error(
        login_2fa(&w, Some(&two_fa), grant.clone()).await,
        401,
        "token_expired",
        Some("Token expired."),
    )
    .await;
    // Bad input: 422, nothing counted.
    let two_fa = first_step(&w, "REQUEST_OTP").await;
    for bad in [
        json!({"grant_type": "authorize_2fa_access_token", "otp": "123456"}),
        json!({"grant_type": "authorize_2fa_access_token", "otp": 1_000_000}),
        json!({"grant_type": "authorize_2fa_access_token", "otp": 1, "extra": true}),
        json!({"grant_type": "refresh_2fa_access_token", "otp": 1}),
    ] {
        assert_eq!(
            login_2fa(&w, Some(&two_fa), bad.clone()).await.status(),
            422,
            "{bad}"
        );
    }
    assert_eq!(
        w.app
            .count("SELECT coalesce(sum(attempts), 0)::bigint AS n FROM otps")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_codes_in_a_row_block_the_user() {
    let w = world().await;
    with_factor(&w).await;
    let two_fa = first_step(&w, "REQUEST_OTP").await;
    let wrong = (code(&w, PHONE) + 1) % 1_000_000;
    for _ in 0..3 {
        assert_error(
            with_code(&w, &two_fa, wrong).await,
            401,
            "otp_invalid",
            Some("Invalid OTP code."),
        )
        .await;
    }
    let right = code(&w, PHONE);
    assert_error(
        with_code(&w, &two_fa, right).await,
        401,
        "user_blocked",
        Some("User blocked."),
    )
    .await;
    let user = w
        .app
        .mithril(Method::GET, &format!("/admin/users/{}", w.user), None)
        .await;
    assert_eq!(user["data"]["is_blocked"], true);
    assert_eq!(
        user["data"]["block_reason"],
        "Passed invalid OTP more than USER_OTP_ERROR_MAX"
    );
    // Unblocking starts the count again.
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/users/{}/actions/unblock", w.user),
            None,
        )
        .await;
    assert_eq!(wrong_codes_in_a_row(&w).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_has_three_attempts_and_five_minutes() {
    let w = world_with(|s| s.otp.user_error_max = 100).await;
    with_factor(&w).await;
    let two_fa = first_step(&w, "REQUEST_OTP").await;
    let right = code(&w, PHONE);
    for _ in 0..3 {
        with_code(&w, &two_fa, (right + 1) % 1_000_000).await;
    }
    let res = with_code(&w, &two_fa, right).await;
    assert_error(
        res,
        401,
        "otp_reached_max_attempts",
        Some("Reached max OTP verify attempts"),
    )
    .await;

    let two_fa = first_step(&w, "REQUEST_OTP").await;
    let right = code(&w, PHONE);
    w.app
        .exec("UPDATE otps SET expires_at = now() - interval '1 second' WHERE status = 'NEW'")
        .await;
    assert_error(
        with_code(&w, &two_fa, right).await,
        401,
        "otp_expired",
        Some("OTP expired."),
    )
    .await;
    assert_error(
        with_code(&w, &two_fa, right).await,
        401,
        "otp_invalid",
        Some("Invalid OTP code."),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_code_on_request_within_the_send_limit() {
    let w = world().await;
    with_factor(&w).await;
    let first = first_step(&w, "REQUEST_OTP").await;
    let refresh = |bearer: String| {
        let w = &w;
        async move {
            login_2fa(
                w,
                Some(&bearer),
                json!({"grant_type": "refresh_2fa_access_token"}),
            )
            .await
        }
    };
    let res = refresh(first.clone()).await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert_eq!(body["urgent"]["next_step"], "REQUEST_OTP");
    let second = body["data"]["value"].as_str().unwrap().to_owned();
    assert_eq!(w.app.sms.messages().len(), 2);
    // The earlier 2FA token and its code are over.
    assert_error(
        refresh(first).await,
        401,
        "token_expired",
        Some("Token expired."),
    )
    .await;
    let third = json_of(refresh(second).await).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    // Three codes within the minute: the fourth is refused.
    let res = refresh(third.clone()).await;
    assert_eq!(res.headers()["retry-after"], "60");
    assert_error(
        res,
        429,
        "otp_timeout",
        Some("Sending OTP timeout. Try later."),
    )
    .await;
    assert_eq!(w.app.sms.messages().len(), 3);
    // The latest code still works.
    assert_eq!(with_code(&w, &third, code(&w, PHONE)).await.status(), 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sms_provider_that_fails_or_is_gone_is_a_503() {
    let w = world().await;
    with_factor(&w).await;
    w.app.sms.fail(true);
    let res = w.login().await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(
        res,
        503,
        "service_unavailable",
        Some("SMS not sent. Try later"),
    )
    .await;

    let w = world_with(|s| s.sms.url = "http://127.0.0.1:1".into()).await;
    with_factor(&w).await;
    let res = w.login().await;
    assert_error(
        res,
        503,
        "service_unavailable",
        Some("SMS not sent. Try later"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_active_factor_or_its_phone_a_409() {
    let w = world().await;
    let id = with_factor(&w).await;
    let two_fa = first_step(&w, "REQUEST_OTP").await;
    let res = factor_req(&w, Method::PATCH, &format!("/{id}/actions/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res).await["data"]["factor"], Value::Null);
    let res = with_code(&w, &two_fa, 1).await;
    assert_error(res, 409, "request_conflict", Some("Factor not set")).await;
    factor_req(&w, Method::PATCH, &format!("/{id}/actions/disable"))
        .send()
        .await
        .unwrap();
    let res = with_code(&w, &two_fa, 1).await;
    assert_error(
        res,
        409,
        "request_conflict",
        Some("Active authentication factor not found"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_sets_and_then_changes_the_phone() {
    let w = world().await;
    let id = with_factor(&w).await;
    factor_req(&w, Method::PATCH, &format!("/{id}/actions/reset"))
        .send()
        .await
        .unwrap();
    // The factor has no phone: the login asks for one.
    let two_fa = first_step(&w, "REQUEST_FACTOR").await;
    assert!(w.app.sms.messages().is_empty());
    let init = |bearer: String, body: Value| {
        let w = &w;
        async move {
            w.app
                .auth_req(Method::POST, "/oauth/users/actions/init_factor")
                .bearer_auth(bearer)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let approve = |bearer: String, otp: Value| {
        let w = &w;
        async move {
            w.app
                .auth_req(Method::POST, "/oauth/users/actions/approve_factor")
                .bearer_auth(bearer)
                .json(&json!({"otp": otp}))
                .send()
                .await
                .unwrap()
        }
    };
    for bad in [
        json!({"type": "SMS", "factor": "0501234567"}),
        json!({"type": "EMAIL", "factor": NEW_PHONE}),
        json!({"type": "SMS"}),
    ] {
        assert_eq!(
            init(two_fa.clone(), bad.clone()).await.status(),
            422,
            "{bad}"
        );
    }
    // approve_factor wants the token of init_factor.
    let res = approve(two_fa.clone(), json!(123456)).await;
    assert_error(
        res,
        401,
        "token_invalid_type",
        Some("Invalid token type. Init factor at first"),
    )
    .await;
    let res = init(two_fa.clone(), json!({"type": "SMS", "factor": NEW_PHONE})).await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert!(body["data"].get("details").is_none(), "{body}");
    assert_eq!(body["urgent"]["next_step"], "APPROVE_FACTOR");
    let pending = body["data"]["value"].as_str().unwrap().to_owned();
    assert_eq!(approve(pending.clone(), json!("x")).await.status(), 422);
    let res = approve(pending.clone(), json!(code(&w, NEW_PHONE))).await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert_eq!(body["data"]["name"], "access_token");
    assert_eq!(body["urgent"]["next_step"], "REQUEST_APPS");
    let access = body["data"]["value"].as_str().unwrap().to_owned();
    let shown = json_of(
        factor_req(&w, Method::GET, &format!("/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(shown["data"]["factor"], NEW_PHONE);
    // An access token may change a phone that is set (a new login would end it); a 2FA
    // token may not.
    let res = init(access, json!({"type": "SMS", "factor": PHONE})).await;
    assert_eq!(res.status(), 201);
    assert_eq!(w.app.sms.messages().last().unwrap()["phone_number"], PHONE);
    let two_fa = first_step(&w, "REQUEST_OTP").await;
    let res = init(two_fa, json!({"type": "SMS", "factor": PHONE})).await;
    assert_error(res, 401, "token_invalid_type", Some("Invalid token type.")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_manage_factors() {
    let w = world().await;
    let id = with_factor(&w).await;
    let send = |r: reqwest::RequestBuilder| async move { r.send().await.unwrap() };
    // One factor per user; the phone's format.
    let res =
        send(factor_req(&w, Method::POST, "").json(&json!({"type": "SMS", "factor": NEW_PHONE})))
            .await;
    assert_error(res, 422, "validation_failed", None).await;
    let res =
        send(factor_req(&w, Method::POST, "").json(&json!({"type": "SMS", "factor": "+38050"})))
            .await;
    assert_error(res, 422, "validation_failed", None).await;
    let res = send(
        factor_req(&w, Method::POST, "")
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(res.status(), 400);
    let other = format!("/admin/users/{}/authentication_factors", Uuid::now_v7());
    let res = send(
        w.app
            .mithril_req(Method::POST, &other)
            .json(&json!({"type": "SMS", "factor": PHONE})),
    )
    .await;
    assert_error(res, 404, "not_found", None).await;
    let res = send(w.app.mithril_req(Method::GET, &format!("{other}/{id}"))).await;
    assert_error(res, 404, "not_found", None).await;
    let list = json_of(send(factor_req(&w, Method::GET, "?is_active=true")).await).await;
    assert_eq!(list["paging"]["total_entries"], 1);

    let action = |a: &str| factor_req(&w, Method::PATCH, &format!("/{id}/actions/{a}"));
    assert_eq!(
        json_of(send(action("disable")).await).await["data"]["is_active"],
        false
    );
    assert_error(
        send(action("disable")).await,
        409,
        "request_conflict",
        Some("user authentication factor already disabled"),
    )
    .await;
    // A disabled factor: the login needs no code, and it cannot be reset.
    assert_eq!(
        json_of(w.login().await).await["data"]["name"],
        "access_token"
    );
    assert_error(send(action("reset")).await, 404, "not_found", None).await;
    assert_eq!(
        json_of(send(action("enable")).await).await["data"]["is_active"],
        true
    );
    assert_error(
        send(action("enable")).await,
        409,
        "request_conflict",
        Some("user authentication factor already enabled"),
    )
    .await;
    assert_eq!(
        json_of(send(action("reset")).await).await["data"]["factor"],
        Value::Null
    );
}
