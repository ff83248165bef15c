//! Seeds 000 (list), 001 (update), 002 (delete) and the public refresh_secret: the client
//! context from the trusted headers, 401/403/404/422, and secrets never shown.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

struct World {
    app: TestApp,
    msp: Uuid,
    mis: Uuid,
    other_msp: Uuid,
    admin: Uuid,
    /// msp ← mis
    conn: Uuid,
}

async fn world() -> World {
    world_with(|_| {}).await
}

async fn world_with(tweak: impl FnOnce(&mut mithril_api::Settings)) -> World {
    let app = spawn_with(tweak).await;
    let msp = app.client("MSP").await;
    let mis = app.client("MIS").await;
    let other_msp = app.client("MSP").await;
    let admin = app.client("Mithril ADMIN").await;
    let (conn, _) = app.connection(msp, mis, "https://mis.example.com/cb").await;
    World {
        app,
        msp,
        mis,
        other_msp,
        admin,
        conn,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn seed000_msp_lists_its_own_connections_without_secrets() {
    let w = world().await;
    let res = w
        .app
        .req(Method::GET, &format!("/api/clients/{}/connections", w.msp))
        .with_caller(w.msp)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["meta"]["code"], 200);
    assert_eq!(body["meta"]["type"], "list");
    assert!(
        body["meta"]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/clients/{}/connections", w.msp))
    );
    assert!(!body["meta"]["request_id"].as_str().unwrap().is_empty());
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], w.conn.to_string());
    assert_eq!(data[0]["client_id"], w.msp.to_string());
    assert_eq!(data[0]["consumer_id"], w.mis.to_string());
    assert_eq!(data[0]["redirect_uri"], "https://mis.example.com/cb");
    assert!(data[0].get("secret").is_none());
    assert!(data[0].get("secret_hash").is_none());
    assert_eq!(
        body["paging"],
        json!({"page_number": 1, "page_size": 50, "total_entries": 1, "total_pages": 1})
    );
}

/// Seed 000 and the show are reads only: they share the worker's pipelined read connection, so
/// 64 at once open no connection beyond it. A connection lost under it is replaced: the read
/// that finds it gone is a 503, the next one is served.
#[tokio::test(flavor = "multi_thread")]
async fn seed000_reads_share_one_pipelined_connection_and_replace_a_lost_one() {
    const APP: &str = "mithril_under_test";
    let w = world_with(|s| {
        s.server.workers = 1;
        testkit::pg::only_shared_reads(&mut s.database, APP);
    })
    .await;
    let list = format!("/api/clients/{}/connections", w.msp);
    let show = format!("/api/clients/{}/connections/{}", w.msp, w.conn);
    let get = |path: &str| w.app.req(Method::GET, path).with_caller(w.msp).send();
    let app_backends =
        format!("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = '{APP}'");
    assert_eq!(get(&list).await.unwrap().status(), 200);

    // Every backend of the app goes (the start-up checks' pooled one too); the call returns
    // once they have exited.
    w.app
        .texts(&format!(
            "SELECT pg_terminate_backend(pid, 10000)::text AS t FROM pg_stat_activity \
              WHERE application_name = '{APP}'"
        ))
        .await;
    assert_eq!(w.app.count(&app_backends).await, 0);
    let res = get(&list).await.unwrap();
    assert_eq!(res.headers()["retry-after"], "1");
    let body = assert_error(res, 503, "service_unavailable").await;
    assert_eq!(
        body["error"]["message"],
        "Database is unavailable. Try later."
    );

    let statuses = futures_util::future::join_all((0..64).map(|i| {
        let path = if i % 2 == 0 { &list } else { &show };
        async move { get(path).await.unwrap().status().as_u16() }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(w.app.count(&app_backends).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn seed000_restricted_types_get_403_for_another_client_and_admins_see_any() {
    let w = world().await;
    let path = format!("/api/clients/{}/connections", w.msp);
    for restricted in [w.other_msp, w.mis] {
        let res = w
            .app
            .req(Method::GET, &path)
            .with_caller(restricted)
            .send()
            .await
            .unwrap();
        assert_error(res, 403, "forbidden").await;
    }
    let res = w
        .app
        .req(Method::GET, &path)
        .with_caller(w.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["data"].as_array().unwrap().len(), 1);

    // PHARMACY and NHS ADMIN: restricted and admin as well.
    let pharmacy = w.app.client("PHARMACY").await;
    let res = w
        .app
        .req(Method::GET, &path)
        .with_caller(pharmacy)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
    let nhs = w.app.client("NHS ADMIN").await;
    let res = w
        .app
        .req(Method::GET, &path)
        .with_caller(nhs)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_client_types_are_configurable() {
    let app = spawn_with(|s| s.client_types.admin = vec!["MIS".into()]).await;
    let msp = app.client("MSP").await;
    let mis = app.client("MIS").await;
    let admin = app.client("Mithril ADMIN").await;
    let path = format!("/api/clients/{msp}/connections");
    let res = app
        .req(Method::GET, &path)
        .with_caller(mis)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .req(Method::GET, &path)
        .with_caller(admin)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn seed000_without_trusted_headers_or_with_unknown_client_is_401() {
    let w = world().await;
    let path = format!("/api/clients/{}/connections", w.msp);
    let res = w.app.req(Method::GET, &path).send().await.unwrap();
    let body = assert_error(res, 401, "access_denied").await;
    assert_eq!(
        body["error"]["message"],
        "Missing header x-consumer-metadata"
    );

    let res = testkit::access::signed(
        w.app
            .req(Method::GET, &path)
            .header("x-consumer-metadata", "{not json")
            .header("x-consumer-id", Uuid::now_v7().to_string()),
    )
    .send()
    .await
    .unwrap();
    let body = assert_error(res, 401, "access_denied").await;
    assert_eq!(
        body["error"]["message"],
        "Invalid header x-consumer-metadata"
    );

    let res = w
        .app
        .req(Method::GET, &path)
        .header(
            "x-consumer-metadata",
            json!({"client_id": w.msp}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let body = assert_error(res, 401, "access_denied").await;
    assert_eq!(body["error"]["message"], "Missing header x-consumer-id");

    let res = w
        .app
        .req(Method::GET, &path)
        .with_caller(Uuid::now_v7())
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "access_denied").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn show_is_404_for_a_connection_of_another_client() {
    let w = world().await;
    let res = w
        .app
        .req(
            Method::GET,
            &format!("/api/clients/{}/connections/{}", w.msp, w.conn),
        )
        .with_caller(w.msp)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["data"]["id"], w.conn.to_string());
    assert!(body["data"].get("secret").is_none());

    let res = w
        .app
        .req(
            Method::GET,
            &format!("/api/clients/{}/connections/{}", w.admin, w.conn),
        )
        .with_caller(w.admin)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
    let res = w
        .app
        .req(
            Method::GET,
            &format!("/api/clients/{}/connections/{}", w.msp, Uuid::now_v7()),
        )
        .with_caller(w.msp)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
    let res = w
        .app
        .req(
            Method::GET,
            &format!("/api/clients/{}/connections/{}", w.msp, w.conn),
        )
        .with_caller(w.other_msp)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn seed001_updates_only_the_redirect_uri() {
    let w = world().await;
    let path = format!("/api/clients/{}/connections/{}", w.msp, w.conn);
    let hash_sql = "SELECT encode(secret_hash, 'hex') AS t FROM connections";
    let before = w.app.texts(hash_sql).await;
    let res = w
        .app
        .req(Method::PATCH, &path)
        .with_caller(w.msp)
        .json(&json!({"redirect_uri": "https://example3.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["meta"]["type"], "object");
    assert_eq!(body["data"]["redirect_uri"], "https://example3.com");
    assert_eq!(body["data"]["client_id"], w.msp.to_string());
    assert_eq!(body["data"]["consumer_id"], w.mis.to_string());
    assert!(body["data"].get("secret").is_none());
    assert_eq!(
        w.app
            .texts("SELECT redirect_uri AS t FROM connections")
            .await,
        vec!["https://example3.com"]
    );
    // The secret did not change.
    assert_eq!(before, w.app.texts(hash_sql).await);

    // Admins may update any client's connection.
    let res = w
        .app
        .req(Method::PATCH, &path)
        .with_caller(w.admin)
        .json(&json!({"redirect_uri": "https://example4.com/x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn seed001_rejects_bad_bodies_with_422_and_changes_nothing() {
    let w = world().await;
    let path = format!("/api/clients/{}/connections/{}", w.msp, w.conn);
    let cases = [
        (
            json!({"redirect_uri": "http://plain.example.com"}),
            "$.redirect_uri",
            "format",
        ),
        (
            json!({"redirect_uri": "not a uri"}),
            "$.redirect_uri",
            "format",
        ),
        (json!({"redirect_uri": 42}), "$.redirect_uri", "cast"),
        (json!({}), "$.redirect_uri", "required"),
        (
            json!({"redirect_uri": "https://ok.example.com", "secret": "mine"}),
            "$.secret",
            "schema",
        ),
        (
            json!({"redirect_uri": "https://ok.example.com", "consumer_id": Uuid::now_v7()}),
            "$.consumer_id",
            "schema",
        ),
    ];
    for (body, entry, rule) in cases {
        let res = w
            .app
            .req(Method::PATCH, &path)
            .with_caller(w.msp)
            .json(&body)
            .send()
            .await
            .unwrap();
        let err = assert_error(res, 422, "validation_failed").await;
        assert!(
            rules_at(&err, entry).contains(&rule.to_owned()),
            "{body} → {err}"
        );
        assert_eq!(
            err["error"]["invalid"][0]["entry_type"],
            "json_data_property"
        );
    }
    assert_eq!(
        w.app
            .texts("SELECT redirect_uri AS t FROM connections")
            .await,
        vec!["https://mis.example.com/cb"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn seed001_forbidden_and_not_found() {
    let w = world().await;
    let body = json!({"redirect_uri": "https://evil.example.com"});
    let res = w
        .app
        .req(
            Method::PATCH,
            &format!("/api/clients/{}/connections/{}", w.msp, w.conn),
        )
        .with_caller(w.other_msp)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
    let (other_conn, _) = w
        .app
        .connection(w.other_msp, w.mis, "https://other.example.com")
        .await;
    let res = w
        .app
        .req(
            Method::PATCH,
            &format!("/api/clients/{}/connections/{}", w.msp, other_conn),
        )
        .with_caller(w.msp)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
    let res = w
        .app
        .req(
            Method::PATCH,
            &format!("/api/clients/{}/connections/{}", w.msp, w.conn),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "access_denied").await;
    assert_eq!(
        w.app
            .count("SELECT count(*) AS n FROM connections WHERE redirect_uri LIKE '%evil%'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn seed002_deletes_and_answers_with_meta_only() {
    let w = world().await;
    let path = format!("/api/clients/{}/connections/{}", w.msp, w.conn);

    let res = w
        .app
        .req(Method::DELETE, &path)
        .with_caller(w.other_msp)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
    let res = w.app.req(Method::DELETE, &path).send().await.unwrap();
    assert_error(res, 401, "access_denied").await;
    assert_eq!(
        w.app.count("SELECT count(*) AS n FROM connections").await,
        1
    );

    let res = w
        .app
        .req(Method::DELETE, &path)
        .with_caller(w.msp)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["meta"]["code"], 200);
    assert_eq!(body["meta"]["type"], "object");
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["meta"]
    );
    assert_eq!(
        w.app.count("SELECT count(*) AS n FROM connections").await,
        0
    );

    let res = w
        .app
        .req(Method::DELETE, &path)
        .with_caller(w.msp)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn public_refresh_secret_follows_the_consumer_rule() {
    let w = world().await;
    let path = format!(
        "/api/clients/{}/connections/{}/actions/refresh_secret",
        w.msp, w.conn
    );
    // The MSP may address its client, but only the consumer (MIS) may rotate this secret.
    let res = w
        .app
        .req(Method::PATCH, &path)
        .with_caller(w.msp)
        .send()
        .await
        .unwrap();
    let body = assert_error(res, 401, "access_denied").await;
    assert_eq!(body["error"]["message"], "api-key header not set");
    let (_, mis_self_secret) = w
        .app
        .connection(w.mis, w.mis, "https://mis.example.com")
        .await;
    let res = w
        .app
        .req(Method::PATCH, &path)
        .with_caller(w.msp)
        .header("api-key", &mis_self_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["data"]["secret"].as_str().unwrap().len(), 43);
    let res = w
        .app
        .req(Method::PATCH, &path)
        .with_caller(w.other_msp)
        .header("api-key", &mis_self_secret)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
}
