use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn seeded_types_are_there_with_their_scopes() {
    let app = spawn_app().await;
    for (name, scope) in [
        ("MSP", "connection:read"),
        ("MIS", "connection:delete"),
        ("Mithril ADMIN", "client:write"),
        ("PHARMACY", "connection:refresh_secret"),
    ] {
        let body = json_of(
            app.send(
                Method::GET,
                &format!("/admin/client_types?name={}", urlencode(name)),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(body["paging"]["total_entries"], 1, "{name}");
        let scopes: Vec<&str> = body["data"][0]["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .collect();
        assert!(scopes.contains(&scope), "{name} lacks {scope}");
    }
    assert!(
        app.count("SELECT count(*) AS n FROM roles WHERE name IN ('DOCTOR','OWNER','ADMIN','HR')")
            .await
            == 4
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn crud_with_unique_names() {
    let app = spawn_app().await;
    let res = app
        .send(
            Method::POST,
            "/admin/client_types",
            Some(json!({"client_type": {"name": "TEST", "scope": "b:read  a:write b:read"}})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["name"], "TEST");
    assert_eq!(body["data"]["scope"], "b:read a:write");

    let res = app
        .send(
            Method::POST,
            "/admin/client_types",
            Some(json!({"client_type": {"name": "TEST", "scope": "x"}})),
        )
        .await;
    let body = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&body, "$.name"), vec!["unique"]);
    assert_eq!(
        body["error"]["invalid"][0]["rules"][0]["description"],
        "has already been taken"
    );

    let body = json_of(
        app.send(Method::GET, &format!("/admin/client_types/{id}"), None)
            .await,
    )
    .await;
    assert_eq!(body["data"]["name"], "TEST");

    let res = app
        .send(
            Method::PATCH,
            &format!("/admin/client_types/{id}"),
            Some(json!({"client_type": {"scope": "c:read"}})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(
        (
            body["data"]["name"].as_str(),
            body["data"]["scope"].as_str()
        ),
        (Some("TEST"), Some("c:read"))
    );
    let res = app
        .send(
            Method::PUT,
            &format!("/admin/client_types/{id}"),
            Some(json!({"client_type": {"name": "MSP"}})),
        )
        .await;
    assert_error(res, 422, "validation_failed").await;
    let res = app
        .send(
            Method::PUT,
            &format!("/admin/client_types/{}", Uuid::now_v7()),
            Some(json!({"client_type": {"name": "X"}})),
        )
        .await;
    assert_error(res, 404, "not_found").await;

    let res = app
        .send(Method::DELETE, &format!("/admin/client_types/{id}"), None)
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send(Method::GET, &format!("/admin/client_types/{id}"), None)
        .await;
    assert_error(res, 404, "not_found").await;
    let res = app
        .send(Method::DELETE, &format!("/admin/client_types/{id}"), None)
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_type_in_use_cannot_be_deleted() {
    let app = spawn_app().await;
    app.client("MSP").await;
    let msp_type = app.client_type_id("MSP").await;
    let res = app
        .send(
            Method::DELETE,
            &format!("/admin/client_types/{msp_type}"),
            None,
        )
        .await;
    assert_error(res, 409, "request_conflict").await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM client_types WHERE name = 'MSP'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scope_filter_matches_any_overlap() {
    let app = spawn_app().await;
    for (name, scope) in [
        ("T1", "only:one shared:x"),
        ("T2", "only:two shared:x"),
        ("T3", "only:three"),
    ] {
        let res = app
            .send(
                Method::POST,
                "/admin/client_types",
                Some(json!({"client_type": {"name": name, "scope": scope}})),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let names = |body: serde_json::Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(
            json_of(
                app.send(Method::GET, "/admin/client_types?scope=shared:x", None)
                    .await
            )
            .await
        ),
        vec!["T1", "T2"]
    );
    assert_eq!(
        names(
            json_of(
                app.send(
                    Method::GET,
                    "/admin/client_types?scope=only:one,only:three",
                    None
                )
                .await
            )
            .await
        ),
        vec!["T1", "T3"]
    );
    assert_eq!(
        names(
            json_of(
                app.send(Method::GET, "/admin/client_types?scope=only:on", None)
                    .await
            )
            .await
        ),
        Vec::<String>::new()
    );
}
