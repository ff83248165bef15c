//! auth-token's trust boundaries from outside: `/admin` takes the admin token, the verify
//! endpoints also the gatekeeper's service token (and nothing else does), and authorize acts
//! for a user only under the gatekeeper's signature.

use reqwest::Method;
use serde_json::json;
use testkit::access::{ADMIN_TOKEN, SERVICE_TOKEN};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn verify_takes_the_service_token_which_opens_nothing_else() {
    let w = world().await;
    let (access, _) = w.access().await;
    let verify = format!("{}/admin/tokens/{access}/verify", w.app.auth);
    let call = |url: String, method: Method, bearer: Option<&'static str>| {
        let mut r = w
            .app
            .http
            .request(method, url)
            .header("api-key", &w.api_key);
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send()
    };
    let res = call(verify.clone(), Method::GET, None).await.unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_error(
        res,
        401,
        "access_denied",
        Some("Admin credential required."),
    )
    .await;
    for bearer in [SERVICE_TOKEN, ADMIN_TOKEN] {
        let res = call(verify.clone(), Method::GET, Some(bearer))
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{bearer}");
    }
    let res = call(
        format!("{}/admin/api_keys/verify", w.app.auth),
        Method::GET,
        Some(SERVICE_TOKEN),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);

    // The service token administers nothing: no listing, no logging users out.
    let tokens =
        "SELECT count(*) AS n FROM tokens WHERE expires_at > extract(epoch FROM now())::bigint";
    let live = w.app.count(tokens).await;
    for (method, path) in [
        (Method::GET, "/admin/tokens".to_owned()),
        (Method::DELETE, format!("/admin/users/{}/tokens", w.user)),
        (Method::GET, format!("/admin/tokens/{access}/user")),
    ] {
        let res = call(format!("{}{path}", w.app.auth), method, Some(SERVICE_TOKEN))
            .await
            .unwrap();
        assert_error(res, 401, "access_denied", Some("Invalid admin credential.")).await;
    }
    assert_eq!(w.app.count(tokens).await, live);
    assert_eq!(w.verify(&access, Some(&w.api_key)).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_refuses_an_unsigned_user_and_issues_nothing() {
    let w = world().await;
    let codes = "SELECT count(*) AS n FROM tokens";
    let before = w.app.count(codes).await;
    let res = w
        .app
        .auth_req(Method::POST, "/oauth/apps/authorize")
        .header("x-consumer-id", w.user.to_string())
        .json(&json!({"app": {"client_id": w.msp, "redirect_uri": REDIRECT, "scope": SCOPE}}))
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        401,
        "access_denied",
        Some("Missing header x-consumer-signature"),
    )
    .await;
    assert_eq!(w.app.count(codes).await, before);
}

#[test]
fn the_binary_answers_help_and_version() {
    testkit::assert_cli(
        env!("CARGO_BIN_EXE_auth-token"),
        "auth-token",
        env!("CARGO_PKG_VERSION"),
        &["serve", "migrate", "healthcheck"],
    );
}
