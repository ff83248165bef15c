//! Users (password policy, history, block/unblock), roles, user and global roles, approvals.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

const PASSWORD: &str = "Correct1horse!";

async fn create_user(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.send(
        Method::POST,
        "/admin/users",
        Some(json!({"user": {"email": email, "password": password}})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn users_crud_policy_and_unique_email() {
    let app = spawn_app().await;
    for (password, rule) in [
        ("Short1a", "length"),
        ("alllowercase12", "format"),
        ("NoDigitsAtAllHere", "format"),
    ] {
        let res = create_user(&app, "a@example.com", password).await;
        let body = assert_error(res, 422, "validation_failed").await;
        assert!(
            rules_at(&body, "$.password").contains(&rule.to_owned()),
            "{password}: {body}"
        );
    }
    let res = create_user(&app, "not-an-email", PASSWORD).await;
    let body = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&body, "$.email"), vec!["format"]);

    let res = create_user(&app, "Doctor@Example.com", PASSWORD).await;
    assert_eq!(res.status(), 201);
    let id = res.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let body = json_of(res).await;
    assert_eq!(body["data"]["id"], id);
    assert!(body["data"].get("password").is_none());
    let stored = app
        .texts(&format!(
            "SELECT password AS t FROM users WHERE id = '{id}'"
        ))
        .await;
    assert!(stored[0].starts_with("$argon2id$"));
    // citext: the same address in another case is taken.
    let res = create_user(&app, "doctor@example.COM", PASSWORD).await;
    let body = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&body, "$.email"), vec!["unique"]);

    let body = json_of(
        app.send(Method::GET, "/admin/users?email=DOCTOR@example.com", None)
            .await,
    )
    .await;
    assert_eq!(body["paging"]["total_entries"], 1);
    let body = json_of(
        app.send(
            Method::GET,
            &format!("/admin/users?ids={id},{}", Uuid::now_v7()),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(body["paging"]["total_entries"], 1);
    let res = app.send(Method::GET, "/admin/users?ids=a,b", None).await;
    assert_error(res, 422, "validation_failed").await;

    let res = app
        .send(
            Method::PATCH,
            &format!("/admin/users/{id}"),
            Some(json!({"user": {"tax_id": "1234567890"}})),
        )
        .await;
    assert_eq!(json_of(res).await["data"]["tax_id"], "1234567890");
    assert_eq!(
        app.send(Method::DELETE, &format!("/admin/users/{id}"), None)
            .await
            .status(),
        204
    );
    assert_error(
        app.send(Method::GET, &format!("/admin/users/{id}"), None)
            .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_three_passwords_cannot_be_reused() {
    let app = spawn_app().await;
    let id = json_of(create_user(&app, "u@example.com", "Password1one").await).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/admin/users/{id}");
    let change =
        |pw: &'static str| app.send(Method::PUT, &path, Some(json!({"user": {"password": pw}})));
    let res = change("Password1one").await;
    let body = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&body, "$.password"), vec!["password_used"]);
    assert_eq!(
        body["error"]["invalid"][0]["rules"][0]["description"],
        "This password has been used recently. Try another one"
    );
    for pw in ["Password1two", "Password1three", "Password1four"] {
        assert_eq!(change(pw).await.status(), 200);
    }
    // "one" has left the last three; "two" has not.
    assert_eq!(change("Password1two").await.status(), 422);
    assert_eq!(change("Password1one").await.status(), 200);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM password_hstr WHERE user_id = '{id}'"
        ))
        .await,
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn block_and_unblock() {
    let app = spawn_app().await;
    let id = json_of(create_user(&app, "b@example.com", PASSWORD).await).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .send(
            Method::PATCH,
            &format!("/admin/users/{id}/actions/block"),
            Some(json!({"user": {"block_reason": "fraud"}})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(
        (
            body["data"]["is_blocked"].as_bool(),
            body["data"]["block_reason"].as_str()
        ),
        (Some(true), Some("fraud"))
    );
    let res = app
        .send(
            Method::PATCH,
            &format!("/admin/users/{id}/actions/block"),
            None,
        )
        .await;
    let body = assert_error(res, 409, "request_conflict").await;
    assert_eq!(body["error"]["message"], "user already blocked");
    // A body that is there must be valid.
    let res = app
        .req(Method::PATCH, &format!("/admin/users/{id}/actions/unblock"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "unblock takes no body");
    let res = app
        .send(
            Method::PATCH,
            &format!("/admin/users/{id}/actions/unblock"),
            None,
        )
        .await;
    let body = assert_error(res, 409, "request_conflict").await;
    assert_eq!(body["error"]["message"], "user already unblocked");
    let res = app
        .req(Method::PATCH, &format!("/admin/users/{id}/actions/block"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "request_malformed").await;
    let res = app
        .send(
            Method::PATCH,
            &format!("/admin/users/{}/actions/block", Uuid::now_v7()),
            None,
        )
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_user_roles_and_global_roles() {
    let app = spawn_app().await;
    let res = app
        .send(
            Method::POST,
            "/admin/roles",
            Some(json!({"role": {"name": "AUDITOR", "scope": "a:read b:read"}})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let role = json_of(res).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .send(
            Method::POST,
            "/admin/roles",
            Some(json!({"role": {"name": "AUDITOR", "scope": "x"}})),
        )
        .await;
    assert_error(res, 422, "validation_failed").await;
    let body = json_of(
        app.send(Method::GET, "/admin/roles?scope=b:read", None)
            .await,
    )
    .await;
    assert_eq!(body["paging"]["total_entries"], 1);

    let user = app.user().await;
    let client = app.client("MSP").await;
    let path = format!("/admin/users/{user}/roles");
    let grant = json!({"user_role": {"role_id": role, "client_id": client}});
    let res = app.send(Method::POST, &path, Some(grant.clone())).await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert_eq!(body["data"]["scope"], "a:read b:read");
    let user_role = body["data"]["id"].as_str().unwrap().to_owned();
    let res = app.send(Method::POST, &path, Some(grant)).await;
    let body = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&body, "$.role_id"), vec!["unique"]);
    let res = app
        .send(
            Method::POST,
            &path,
            Some(json!({"user_role": {"role_id": Uuid::now_v7(), "client_id": client}})),
        )
        .await;
    let body = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&body, "$.role_id"), vec!["existence"]);
    let res = app
        .send(
            Method::POST,
            &path,
            Some(json!({"user_role": {"role_id": role, "client_id": Uuid::now_v7()}})),
        )
        .await;
    let body = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&body, "$.client_id"), vec!["existence"]);

    let list: Value = json_of(app.send(Method::GET, &path, None).await).await;
    assert_eq!(list["meta"]["type"], "list");
    assert!(list.get("paging").is_none(), "unpaged");
    assert_eq!(list["data"][0]["role_name"], "AUDITOR");
    assert_eq!(list["data"][0]["client_name"], "MSP client");
    let body = json_of(
        app.send(
            Method::GET,
            &format!("/admin/user_roles?user_ids={user}"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.send(Method::GET, &format!("{path}/{user_role}"), None)
            .await
            .status(),
        200
    );

    let res = app
        .send(
            Method::POST,
            &format!("/admin/users/{user}/global_roles"),
            Some(json!({"global_user_role": {"role_id": role}})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert_eq!(
        (
            body["data"]["role_name"].as_str(),
            body["data"]["scope"].as_str()
        ),
        (Some("AUDITOR"), Some("a:read b:read"))
    );
    let global = body["data"]["id"].as_str().unwrap().to_owned();
    let again = json_of(
        app.send(
            Method::POST,
            &format!("/admin/users/{user}/global_roles"),
            Some(json!({"global_user_role": {"role_id": role}})),
        )
        .await,
    )
    .await;
    assert_eq!(again["data"]["id"], global, "granting twice is harmless");
    assert_eq!(
        app.send(
            Method::GET,
            &format!("/admin/users/{user}/global_roles/{global}"),
            None
        )
        .await
        .status(),
        200
    );

    assert_eq!(
        app.send(Method::DELETE, &format!("{path}?role_name=AUDITOR"), None)
            .await
            .status(),
        204
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM user_roles").await, 0);
    let res = app
        .send(
            Method::DELETE,
            &format!("/admin/users/roles/{user_role}"),
            None,
        )
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn approvals_are_scoped_to_the_consumer() {
    let app = spawn_app().await;
    let user = app.user().await;
    let other = app.user().await;
    let client = app.client("MSP").await;
    let as_user = |m: Method, path: String, who: Uuid| {
        app.req(m, &path).header("x-consumer-id", who.to_string())
    };
    let res = app.send(Method::GET, "/admin/apps", None).await;
    let body = assert_error(res, 401, "access_denied").await;
    assert_eq!(body["error"]["message"], "Missing header x-consumer-id");

    let res = as_user(Method::POST, "/admin/apps".into(), user)
        .json(&json!({"app": {"user_id": user, "client_id": client, "scope": "a b"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = json_of(res).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = as_user(Method::POST, "/admin/apps".into(), user)
        .json(&json!({"app": {"user_id": user, "client_id": client, "scope": "b c"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(res).await["data"]["scope"],
        "a b c",
        "scopes aggregate"
    );

    let mine = json_of(
        as_user(Method::GET, "/admin/apps".into(), user)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(mine["paging"]["total_entries"], 1);
    let theirs = json_of(
        as_user(Method::GET, "/admin/apps".into(), other)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(theirs["paging"]["total_entries"], 0);
    let by_name = json_of(
        as_user(
            Method::GET,
            "/admin/apps?client_names=client_name-msp".into(),
            user,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(by_name["paging"]["total_entries"], 1);
    let by_id = json_of(
        as_user(
            Method::GET,
            format!("/admin/apps?client_ids=client-{}", Uuid::now_v7()),
            user,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(by_id["paging"]["total_entries"], 0);
    let res = as_user(
        Method::GET,
        "/admin/apps?client_ids=client-nope".into(),
        user,
    )
    .send()
    .await
    .unwrap();
    assert_error(res, 422, "validation_failed").await;

    for m in [Method::GET, Method::DELETE] {
        let res = as_user(m, format!("/admin/apps/{id}"), other)
            .send()
            .await
            .unwrap();
        assert_error(res, 404, "not_found").await;
    }
    let res = as_user(Method::PATCH, format!("/admin/apps/{id}"), user)
        .json(&json!({"app": {"scope": "z"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res).await["data"]["scope"], "z");
    assert_eq!(
        as_user(Method::DELETE, format!("/admin/apps/{id}"), user)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM apps").await, 0);
}
