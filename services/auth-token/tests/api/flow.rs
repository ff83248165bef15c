//! The whole flow: admin setup → login → authorize → exchange → verify → refresh, and no
//! credential in plain text in the database.

use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn login_authorize_exchange_verify_refresh() {
    let w = world().await;

    let res = w.login().await;
    assert_eq!(res.status(), 201);
    let login = json_of(res).await;
    assert_eq!(login["data"]["name"], "access_token");
    assert_eq!(
        login["data"]["details"],
        json!({"grant_type": "password", "client_id": w.front.to_string(), "scope": "app:authorize"})
    );
    assert_eq!(login["urgent"]["next_step"], "REQUEST_APPS");
    let login_token = login["data"]["value"].as_str().unwrap().to_owned();
    assert_eq!(login_token.len(), 43);

    let res = w.authorize(json!({"client_id": w.msp, "redirect_uri": "https://mis.example.com/callback?state=xyz", "scope": SCOPE})).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body = json_of(res).await;
    let code = body["data"]["value"].as_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("https://mis.example.com/callback?code={code}&state=xyz")
    );
    assert_eq!(body["urgent"]["redirect_uri"], location);
    assert_eq!(body["data"]["name"], "authorization_code");
    assert_eq!(body["data"]["details"]["scope_request"], SCOPE);
    let expires_in = body["data"]["expires_at"].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!(
        (295..=300).contains(&expires_in),
        "code lives 5 minutes, got {expires_in}"
    );

    let mut exchange = w.exchange_body(&code);
    exchange["token"]["redirect_uri"] = json!("https://mis.example.com/callback?state=xyz");
    let res = w.tokens(&exchange).await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert_eq!(body["meta"]["code"], 201);
    assert!(body.get("urgent").is_none());
    let access = body["data"]["value"].as_str().unwrap().to_owned();
    let details = &body["data"]["details"];
    assert_eq!(body["data"]["name"], "access_token");
    assert_eq!(body["data"]["user_id"], w.user.to_string());
    assert_eq!(details["grant_type"], "authorization_code");
    assert_eq!(details["client_id"], w.msp.to_string());
    assert_eq!(details["scope"], SCOPE);
    assert_eq!(
        details["redirect_uri"],
        "https://mis.example.com/callback?state=xyz"
    );
    let refresh = details["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh.len(), 43);

    // The MSP is a BROKER client: the MIS proves itself with its api-key.
    let res = w.verify(&access, Some(&w.api_key)).await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["data"]["value"], access);
    assert_eq!(body["data"]["user_id"], w.user.to_string());
    assert_eq!(body["data"]["details"]["scope"], SCOPE);
    assert_eq!(
        body["data"]["details"]["broker_scope"],
        "connection:read connection:write"
    );
    assert_eq!(body["urgent"]["mis_client_id"], w.mis.to_string());
    // The login token's client (Auth_FE) is DIRECT.
    let body = json_of(w.verify(&login_token, None).await).await;
    assert_eq!(body["urgent"], json!({"mis_client_id": null}));
    assert!(body["data"]["details"].get("broker_scope").is_none());

    let res = w.tokens(&json!({"token": {"grant_type": "refresh_token", "client_id": w.msp, "client_secret": w.secret, "refresh_token": refresh}})).await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert_eq!(
        body["data"]["details"],
        json!({"grant_type": "refresh_token", "client_id": w.msp.to_string(), "scope": SCOPE})
    );
    let refreshed = body["data"]["value"].as_str().unwrap().to_owned();
    assert_ne!(refreshed, access);
    assert_eq!(w.verify(&refreshed, Some(&w.api_key)).await.status(), 200);
    // Not rotated: the refresh token still works.
    let res = w.tokens(&json!({"token": {"grant_type": "refresh_token", "client_id": w.msp, "client_secret": w.secret, "refresh_token": refresh}})).await;
    assert_eq!(res.status(), 201);

    // Nothing the client holds is stored in plain text.
    let dump = w.app.dump().await;
    for secret in [
        &login_token,
        &code,
        &access,
        &refresh,
        &refreshed,
        &w.secret,
        &w.api_key,
    ] {
        assert!(
            !dump.contains(secret.as_str()),
            "{secret} stored in plain text"
        );
    }
    assert_eq!(
        w.app
            .count("SELECT count(*) AS n FROM tokens WHERE octet_length(value_hash) <> 32")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn approvals_aggregate_scopes() {
    let w = world().await;
    w.authorize(json!({"client_id": w.msp, "redirect_uri": REDIRECT, "scope": "connection:read"}))
        .await;
    w.authorize(json!({"client_id": w.msp, "redirect_uri": REDIRECT, "scope": "connection:write connection:read"})).await;
    assert_eq!(
        w.app.count(&format!("SELECT count(*) AS n FROM apps WHERE user_id = '{}' AND scope = 'connection:read connection:write'", w.user)).await,
        1
    );
}
