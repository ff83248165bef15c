//! End to end through the gatekeeper with the default route file (deploy/config): login →
//! authorize → code exchange → seeds 000, 001, 002, each with its 401 and 403.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::world::{PASSWORD, REDIRECT};

const SCOPE: &str = "connection:read connection:write connection:delete";

#[tokio::test(flavor = "multi_thread")]
async fn oauth_flow_then_seeds_000_001_002() {
    let w = world().await;
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/config/gatekeeper.yaml"
    ))
    .unwrap()
    .replace("http://127.0.0.1:4010", &w.app.mithril)
    .replace("http://127.0.0.1:4020", &w.app.auth);
    let gw = gateway(&yaml, &w.app.auth, |_| {}).await;
    // The MIS may act on the clinic's connections, including deleting them.
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/clients/{}", w.mis),
            Some(json!({"client": {"priv_settings": {"access_type": "DIRECT", "broker_scope": SCOPE}}})),
        )
        .await;

    // 1. Login (no token needed) on the front-end client.
    let res = gw
        .req(Method::POST, "/auth/login")
        .json(
            &json!({"token": {"grant_type": "password", "email": w.email, "password": PASSWORD,
                                "client_id": w.front, "scope": "app:authorize"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let login: String = json_of(res).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();

    // 2. Authorize the clinic: the gatekeeper tells auth-token who the user is.
    let authorize = |scope: &'static str| {
        gw.req(Method::POST, "/oauth/apps/authorize")
            .bearer_auth(&login)
            .header("x-consumer-id", "00000000-0000-0000-0000-000000000000")
            .json(&json!({"app": {"client_id": w.msp, "redirect_uri": REDIRECT, "scope": scope}}))
            .send()
    };
    let res = authorize(SCOPE).await.unwrap();
    assert_eq!(res.status(), 201);
    let code = json_of(res).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = gw
        .req(Method::POST, "/oauth/apps/authorize")
        .json(&json!({"app": {"client_id": w.msp, "redirect_uri": REDIRECT}}))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "access_denied", None).await;

    // 3. Exchange the code (the client authenticates with its secret; no bearer token).
    let exchange = |code: String| {
        gw.req(Method::POST, "/oauth/tokens")
            .json(
                &json!({"token": {"grant_type": "authorization_code", "client_id": w.msp,
                "client_secret": w.secret, "code": code, "redirect_uri": REDIRECT}}),
            )
            .send()
    };
    let res = exchange(code).await.unwrap();
    assert_eq!(res.status(), 201);
    let token = json_of(res).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let narrow = {
        let res = authorize("connection:read").await.unwrap();
        let code = json_of(res).await["data"]["value"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = exchange(code).await.unwrap();
        json_of(res).await["data"]["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let call = |token: Option<&str>, method: Method, path: String, body: Option<Value>| {
        let mut r = gw.req(method, &path).header("api-key", &w.api_key);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let list = format!("/api/clients/{}/connections", w.msp);

    // Seed 000: list connections (connection:read).
    let res = call(Some(&token), Method::GET, list.clone(), None)
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    let connection = body["data"][0]["id"].as_str().unwrap().to_owned();
    assert!(body["data"][0].get("secret").is_none());
    assert!(body["paging"].is_object());
    let res = call(None, Method::GET, list.clone(), None).await.unwrap();
    assert_error(res, 401, "access_denied", None).await;
    // Another clinic's connections: mithril-api's own 403 behind a passing gate.
    let res = call(
        Some(&token),
        Method::GET,
        format!("/api/clients/{}/connections", w.mis),
        None,
    )
    .await
    .unwrap();
    assert_error(res, 403, "forbidden", None).await;

    // Seed 001: update the redirect URI (connection:write).
    let one = format!("{list}/{connection}");
    let patch = json!({"redirect_uri": "https://mis.example.com/new"});
    let res = call(
        Some(&token),
        Method::PATCH,
        one.clone(),
        Some(patch.clone()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        json_of(res).await["data"]["redirect_uri"],
        "https://mis.example.com/new"
    );
    let res = call(None, Method::PATCH, one.clone(), Some(patch.clone()))
        .await
        .unwrap();
    assert_error(res, 401, "access_denied", None).await;
    let res = call(Some(&narrow), Method::PATCH, one.clone(), Some(patch))
        .await
        .unwrap();
    assert_error(
        res,
        403,
        "forbidden",
        Some("Invalid scopes. Missing allowances: connection:write"),
    )
    .await;

    // Seed 002: delete the connection (connection:delete).
    let res = call(None, Method::DELETE, one.clone(), None).await.unwrap();
    assert_error(res, 401, "access_denied", None).await;
    let res = call(Some(&narrow), Method::DELETE, one.clone(), None)
        .await
        .unwrap();
    assert_error(
        res,
        403,
        "forbidden",
        Some("Invalid scopes. Missing allowances: connection:delete"),
    )
    .await;
    let res = call(Some(&token), Method::DELETE, one.clone(), None)
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = call(Some(&token), Method::GET, one, None).await.unwrap();
    assert_eq!(res.status(), 404);

    // /admin is never routed.
    let res = gw.req(Method::GET, "/admin/clients").send().await.unwrap();
    assert_error(res, 404, "not_found", None).await;
}
