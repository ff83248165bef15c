use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

async fn client_body(app: &TestApp, type_name: &str) -> Value {
    json!({"name": "Clinic", "user_id": app.user().await, "client_type_id": app.client_type_id(type_name).await,
           "priv_settings": {"access_type": "BROKER", "broker_scope": "a:read"}, "settings": {"allowed_grant_types": ["password"]}})
}

#[tokio::test(flavor = "multi_thread")]
async fn create_show_details_delete() {
    let app = spawn_app().await;
    let res = app
        .send(
            Method::POST,
            "/admin/clients",
            Some(json!({"client": client_body(&app, "MSP").await})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        body["data"]["priv_settings"],
        json!({"access_type": "BROKER", "broker_scope": "a:read"})
    );
    assert_eq!(body["data"]["is_blocked"], false);

    let body = json_of(
        app.send(Method::GET, &format!("/admin/clients/{id}"), None)
            .await,
    )
    .await;
    assert_eq!(body["data"]["client_type_name"], "MSP");
    assert_eq!(body["data"]["priv_settings"]["access_type"], "BROKER");

    let body = json_of(
        app.send(Method::GET, &format!("/admin/clients/{id}/details"), None)
            .await,
    )
    .await;
    assert_eq!(body["data"]["client_type_name"], "MSP");
    assert_eq!(
        body["data"]["settings"],
        json!({"allowed_grant_types": ["password"]})
    );
    assert!(body["data"].get("priv_settings").is_none());

    let mis = app.client("MIS").await;
    app.connection(id.parse().unwrap(), mis, "https://x.example.com")
        .await;
    let res = app
        .send(Method::DELETE, &format!("/admin/clients/{id}"), None)
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM connections").await,
        0,
        "connections cascade"
    );
    let res = app
        .send(Method::GET, &format!("/admin/clients/{id}/details"), None)
        .await;
    assert_error(res, 404, "not_found").await;
    let res = app
        .send(Method::DELETE, &format!("/admin/clients/{id}"), None)
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn priv_settings_access_type_is_required_and_checked() {
    let app = spawn_app().await;
    let base = client_body(&app, "MSP").await;
    let cases = [
        (
            json!({"access_type": "SOMETIMES"}),
            "$.priv_settings.access_type",
            "inclusion",
        ),
        (json!({}), "$.priv_settings.access_type", "required"),
        (
            json!({"access_type": "DIRECT", "extra": 1}),
            "$.priv_settings.extra",
            "schema",
        ),
    ];
    for (ps, entry, rule) in cases {
        let mut body = base.clone();
        body["priv_settings"] = ps;
        let res = app
            .send(
                Method::POST,
                "/admin/clients",
                Some(json!({"client": body})),
            )
            .await;
        let err = assert_error(res, 422, "validation_failed").await;
        assert_eq!(rules_at(&err, entry), vec![rule], "{err}");
    }
    let mut body = base.clone();
    body.as_object_mut().unwrap().remove("priv_settings");
    let res = app
        .send(
            Method::POST,
            "/admin/clients",
            Some(json!({"client": body})),
        )
        .await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&err, "$.priv_settings"), vec!["required"]);

    let mut body = base.clone();
    body["user_id"] = json!(Uuid::now_v7());
    let res = app
        .send(
            Method::POST,
            "/admin/clients",
            Some(json!({"client": body})),
        )
        .await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&err, "$.user_id"), vec!["existence"]);
    let mut body = base.clone();
    body["client_type_id"] = json!(Uuid::now_v7());
    let res = app
        .send(
            Method::POST,
            "/admin/clients",
            Some(json!({"client": body})),
        )
        .await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&err, "$.client_type_id"), vec!["existence"]);
    assert_eq!(app.count("SELECT count(*) AS n FROM clients").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn put_upserts_by_id() {
    let app = spawn_app().await;
    let id = Uuid::now_v7();
    let res = app
        .send(
            Method::PUT,
            &format!("/admin/clients/{id}"),
            Some(json!({"client": {"name": "No type"}})),
        )
        .await;
    let err = assert_error(res, 422, "validation_failed").await;
    for field in ["$.user_id", "$.client_type_id", "$.priv_settings"] {
        assert_eq!(rules_at(&err, field), vec!["required"], "{field}");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM clients").await, 0);

    let res = app
        .send(
            Method::PUT,
            &format!("/admin/clients/{id}"),
            Some(json!({"client": client_body(&app, "MSP").await})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["data"]["id"], id.to_string());

    let res = app
        .send(
            Method::PATCH,
            &format!("/admin/clients/{id}"),
            Some(
                json!({"client": {"name": "Renamed", "is_blocked": true, "block_reason": "audit"}}),
            ),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["data"]["name"], "Renamed");
    assert_eq!(body["data"]["is_blocked"], true);
    assert_eq!(body["data"]["block_reason"], "audit");
    assert_eq!(
        body["data"]["priv_settings"]["access_type"], "BROKER",
        "untouched fields stay"
    );

    let res = app
        .send(
            Method::PUT,
            &format!("/admin/clients/{id}"),
            Some(json!({"client": {"is_blocked": false, "block_reason": null}})),
        )
        .await;
    let body = json_of(res).await;
    assert_eq!(body["data"]["block_reason"], Value::Null);
    assert_eq!(body["data"]["name"], "Renamed");
    assert_eq!(app.count("SELECT count(*) AS n FROM clients").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_filters() {
    let app = spawn_app().await;
    let a = app.client("MSP").await;
    let b = app.client("MIS").await;
    app.send(
        Method::PATCH,
        &format!("/admin/clients/{b}"),
        Some(json!({"client": {"is_blocked": true}})),
    )
    .await;
    let total = |body: Value| body["paging"]["total_entries"].as_i64().unwrap();
    assert_eq!(
        total(json_of(app.send(Method::GET, "/admin/clients", None).await).await),
        2
    );
    assert_eq!(
        total(
            json_of(
                app.send(Method::GET, "/admin/clients?name=msp%20CLI", None)
                    .await
            )
            .await
        ),
        1
    );
    assert_eq!(
        total(
            json_of(
                app.send(Method::GET, "/admin/clients?is_blocked=true", None)
                    .await
            )
            .await
        ),
        1
    );
    assert_eq!(
        total(
            json_of(
                app.send(Method::GET, &format!("/admin/clients?id={a}"), None)
                    .await
            )
            .await
        ),
        1
    );
    for q in ["is_blocked=yes", "id=1", "user_id=x", "page_size=100"] {
        let res = app
            .send(Method::GET, &format!("/admin/clients?{q}"), None)
            .await;
        assert_error(res, 422, "validation_failed").await;
    }
}
