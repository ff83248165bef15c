//! `POST /oauth/tokens`: every failure step of §3.3 and §3.4, in order, and the single-use race.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn grant_type_missing_is_422_and_not_allowed_is_401() {
    let w = world().await;
    let res = w.tokens(&json!({"token": {"client_id": w.msp}})).await;
    let body = assert_error(
        res,
        422,
        "request_malformed",
        Some("Request must include grant_type."),
    )
    .await;
    assert_eq!(body["error"]["invalid"][0]["entry_type"], "request");
    for grant in ["password", "client_credentials", "change_password"] {
        let res = w.tokens(&json!({"token": {"grant_type": grant}})).await;
        assert_error(res, 401, "invalid_grant", Some("Grant type not allowed.")).await;
    }
    // And the other way round on the login endpoint.
    let res = w
        .app
        .auth_req(Method::POST, "/auth/login")
        .json(&json!({"token": {"grant_type": "authorization_code"}}))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_grant", Some("Grant type not allowed.")).await;
    let res = w.tokens(&json!({"client_id": w.msp})).await;
    assert_error(res, 400, "request_malformed", None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_malformed_fields_are_422_at_their_path() {
    let w = world().await;
    let full = w.exchange_body("some-code");
    for field in ["client_id", "client_secret", "code", "redirect_uri"] {
        let mut body = full.clone();
        body["token"].as_object_mut().unwrap().remove(field);
        let res = w.tokens(&body).await;
        let err = assert_error(res, 422, "validation_failed", None).await;
        assert_eq!(
            err["error"]["invalid"][0]["entry"],
            format!("$.{field}"),
            "{err}"
        );
        assert_eq!(err["error"]["invalid"][0]["rules"][0]["rule"], "required");
    }
    let mut body = full.clone();
    body["token"]["client_id"] = json!("not-a-uuid");
    let err = assert_error(w.tokens(&body).await, 422, "validation_failed", None).await;
    assert_eq!(err["error"]["invalid"][0]["entry"], "$.client_id");
    let mut body = full.clone();
    body["token"]["code"] = json!(12345);
    let err = assert_error(w.tokens(&body).await, 422, "validation_failed", None).await;
    assert_eq!(err["error"]["invalid"][0]["entry"], "$.code");
    let mut body = full.clone();
    body["token"]["surprise"] = json!(1);
    let err = assert_error(w.tokens(&body).await, 422, "validation_failed", None).await;
    assert_eq!(err["error"]["invalid"][0]["entry"], "$.surprise");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_failure_step_in_order() {
    let w = world().await;
    let code = w.code().await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = w.exchange_body(&code);
        f(&mut b);
        b
    };
    // 3. the connection: wrong secret, or a client without that secret.
    let res = w
        .tokens(&with(&|b| b["token"]["client_secret"] = json!("wrong")))
        .await;
    assert_error(
        res,
        401,
        "invalid_client",
        Some("Invalid client id or secret."),
    )
    .await;
    let res = w
        .tokens(&with(&|b| b["token"]["client_id"] = json!(w.mis)))
        .await;
    assert_error(
        res,
        401,
        "invalid_client",
        Some("Invalid client id or secret."),
    )
    .await;
    // 4. the code.
    let res = w
        .tokens(&with(&|b| b["token"]["code"] = json!("no-such-code")))
        .await;
    assert_error(res, 401, "token_not_found", Some("Token not found.")).await;
    let (access, refresh) = w.access().await;
    for not_a_code in [&access, &refresh] {
        let res = w
            .tokens(&with(&|b| b["token"]["code"] = json!(not_a_code)))
            .await;
        assert_error(res, 401, "token_not_found", Some("Token not found.")).await;
    }
    // 5. a code issued for another client: the MIS's own code, exchanged by the MSP connection.
    let mis_self_secret = w.api_key.clone();
    w.app.mithril(Method::POST, &format!("/admin/users/{}/roles", w.user), Some(json!({"user_role": {"role_id": w.app.role_id("MIS USER").await, "client_id": w.mis}}))).await;
    let res = w.authorize(json!({"client_id": w.mis, "redirect_uri": "https://mis.example.com", "scope": "connection:read"})).await;
    assert_eq!(res.status(), 201);
    let mis_code = json_of(res).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = w
        .tokens(&with(&|b| b["token"]["code"] = json!(mis_code)))
        .await;
    assert_error(
        res,
        401,
        "invalid_grant",
        Some("Token not found or expired."),
    )
    .await;
    let _ = mis_self_secret;
    // 7. redirect_uri must match the code's and the connection's.
    let res = w
        .tokens(&with(&|b| {
            b["token"]["redirect_uri"] = json!("https://evil.example.com/callback")
        }))
        .await;
    assert_error(
        res,
        401,
        "invalid_client",
        Some("The redirection URI provided does not match a pre-registered value."),
    )
    .await;
    let res = w
        .tokens(&with(&|b| {
            b["token"]["redirect_uri"] = json!("https://evil/x?https://mis.example.com/callback")
        }))
        .await;
    assert_error(
        res,
        401,
        "invalid_client",
        Some("The redirection URI provided does not match a pre-registered value."),
    )
    .await;
    // 8. the approval was revoked.
    w.app
        .exec(&format!(
            "DELETE FROM apps WHERE user_id = '{}' AND client_id = '{}'",
            w.user, w.msp
        ))
        .await;
    let res = w.tokens(&w.exchange_body(&code)).await;
    assert_error(
        res,
        401,
        "access_denied",
        Some("Resource owner revoked access for the client."),
    )
    .await;
    // 6. expired (a fresh code, aged in the table).
    let code = w.code().await;
    w.app.exec("UPDATE tokens SET expires_at = extract(epoch FROM now())::bigint - 1 WHERE name = 'authorization_code'").await;
    let res = w.tokens(&w.exchange_body(&code)).await;
    assert_error(res, 401, "token_expired", Some("Token expired.")).await;
    // 9. already used.
    let code = w.code().await;
    assert_eq!(w.tokens(&w.exchange_body(&code)).await.status(), 201);
    let res = w.tokens(&w.exchange_body(&code)).await;
    assert_error(
        res,
        401,
        "access_denied",
        Some("Token has already been used."),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_redirect_must_also_match_the_connection() {
    let w = world().await;
    // The MSP gets a second connection (another MIS) whose redirect differs; a code issued for
    // that redirect cannot be exchanged with the first connection's secret.
    let owner = w
        .app
        .user(&format!("o2-{}@example.com", Uuid::now_v7()))
        .await;
    let other_mis = w
        .app
        .client(owner, "MIS", json!({"access_type": "DIRECT"}), &[])
        .await;
    w.app
        .connection(w.msp, other_mis, "https://other-mis.example.com")
        .await;
    let res = w.authorize(json!({"client_id": w.msp, "redirect_uri": "https://other-mis.example.com/cb", "scope": SCOPE})).await;
    assert_eq!(res.status(), 201);
    let code = json_of(res).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut body = w.exchange_body(&code);
    body["token"]["redirect_uri"] = json!("https://other-mis.example.com/cb");
    let res = w.tokens(&body).await;
    assert_error(
        res,
        401,
        "invalid_client",
        Some("The redirection URI provided does not match a pre-registered value."),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_concurrent_exchanges_of_one_code_give_exactly_one_token() {
    let w = world().await;
    let code = w.code().await;
    let body = w.exchange_body(&code);
    let handles: Vec<_> = (0..64)
        .map(|_| {
            tokio::spawn(
                w.app
                    .auth_req(Method::POST, "/oauth/tokens")
                    .json(&body)
                    .send(),
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for h in handles {
        let res = h.await.unwrap().unwrap();
        let status = res.status().as_u16();
        if status == 401 {
            let body = json_of(res).await;
            assert_eq!(body["error"]["message"], "Token has already been used.");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        63,
        "{statuses:?}"
    );
    assert_eq!(w.app.count("SELECT count(*) AS n FROM tokens WHERE name IN ('access_token', 'refresh_token') AND details ->> 'grant_type' = 'authorization_code'").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_grant_failures_in_order() {
    let w = world().await;
    let (access, refresh) = w.access().await;
    let body = |client: Value, secret: &str, token: &str| json!({"token": {"grant_type": "refresh_token", "client_id": client, "client_secret": secret, "refresh_token": token}});
    for field in ["client_id", "client_secret", "refresh_token"] {
        let mut b = body(json!(w.msp), &w.secret, &refresh);
        b["token"].as_object_mut().unwrap().remove(field);
        let err = assert_error(w.tokens(&b).await, 422, "validation_failed", None).await;
        assert_eq!(err["error"]["invalid"][0]["entry"], format!("$.{field}"));
    }
    assert_error(
        w.tokens(&body(json!(w.msp), "wrong", &refresh)).await,
        401,
        "invalid_client",
        Some("Invalid client id or secret."),
    )
    .await;
    assert_error(
        w.tokens(&body(json!(w.msp), &w.secret, &access)).await,
        401,
        "token_not_found",
        Some("Token not found."),
    )
    .await;
    // A refresh token of the MIS's own client, presented by the MSP connection.
    w.app.exec(&format!("UPDATE tokens SET details = jsonb_set(details, '{{client_id}}', '\"{}\"') WHERE name = 'refresh_token'", w.mis)).await;
    assert_error(
        w.tokens(&body(json!(w.msp), &w.secret, &refresh)).await,
        401,
        "invalid_grant",
        Some("Token not found or expired."),
    )
    .await;
    w.app.exec(&format!("UPDATE tokens SET details = jsonb_set(details, '{{client_id}}', '\"{}\"') WHERE name = 'refresh_token'", w.msp)).await;
    w.app
        .exec(&format!("DELETE FROM apps WHERE client_id = '{}'", w.msp))
        .await;
    assert_error(
        w.tokens(&body(json!(w.msp), &w.secret, &refresh)).await,
        401,
        "access_denied",
        Some("Resource owner revoked access for the client."),
    )
    .await;
    w.app
        .exec("UPDATE tokens SET expires_at = 0 WHERE name = 'refresh_token'")
        .await;
    assert_error(
        w.tokens(&body(json!(w.msp), &w.secret, &refresh)).await,
        401,
        "token_expired",
        Some("Token expired."),
    )
    .await;
}

/// The exchange statement checks redirect URIs in SQL; the Rust matcher names the failure. Both
/// must agree.
#[tokio::test(flavor = "multi_thread")]
async fn the_sql_redirect_rule_equals_the_rust_one() {
    let app = spawn().await;
    let mut conn = app.db.connect().await.unwrap();
    let registered = [
        "https://good.com",
        "https://good.com/",
        "https://good.com/cb",
        "https://good.com/cb//",
        "https://h:3000/p?x=1",
    ];
    let requested = [
        "https://good.com",
        "https://good.com/",
        "https://good.com/cb",
        "https://good.com/cb?x=1",
        "https://good.com?x",
        "https://good.com.evil",
        "https://good.comx",
        "https://evil/x?https://good.com",
        "https://good.com/\nx",
        "https://good.com/cb/more",
        "https://good.co",
        "",
        "https://h:3000/p?x=1&y=2",
        "https://h:3000/p?x=12",
        "https://GOOD.com",
        "https://good.com/с",
        "https://good.com\r",
    ];
    for r in registered {
        for q in requested {
            let sql = mithril_store::tokens::redirect_ok_in_sql(&mut conn, r, q)
                .await
                .unwrap();
            let rust = ehealth_core::redirect::redirect_matches(r, q);
            assert_eq!(sql, rust, "registered {r:?}, requested {q:?}");
        }
    }
}
