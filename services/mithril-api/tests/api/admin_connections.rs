//! Admin connections: upsert 201/200, secrets shown once and stored as SHA-256, refresh_secret
//! rules, paging and filters.

use ehealth_core::SecretHash;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

fn hex(h: &SecretHash) -> String {
    h.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_creates_with_a_secret_then_updates_without_it() {
    let app = spawn_app().await;
    let msp = app.client("MSP").await;
    let mis = app.client("MIS").await;
    let path = format!("/admin/clients/{msp}/connections");

    let res = app
        .send(
            Method::PUT,
            &path,
            Some(json!({"consumer_id": mis, "redirect_uri": "https://a.example.com"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body = json_of(res).await;
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/admin/clients/{msp}/connections/{id}"));
    let secret = body["data"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43);
    assert!(
        secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );

    // Only the SHA-256 is stored.
    assert_eq!(
        app.texts("SELECT encode(secret_hash, 'hex') AS t FROM connections")
            .await,
        vec![hex(&SecretHash::of(&secret))]
    );
    assert!(!app.dump().await.contains(&secret));

    let res = app
        .send(
            Method::PUT,
            &path,
            Some(json!({"consumer_id": mis, "redirect_uri": "https://b.example.com"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["data"]["id"], id);
    assert_eq!(body["data"]["redirect_uri"], "https://b.example.com");
    assert!(body["data"].get("secret").is_none());
    assert_eq!(app.count("SELECT count(*) AS n FROM connections").await, 1);
    assert_eq!(
        app.texts("SELECT encode(secret_hash, 'hex') AS t FROM connections")
            .await,
        vec![hex(&SecretHash::of(&secret))]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_upserts_of_one_pair_create_one_connection() {
    let app = spawn_app().await;
    let msp = app.client("MSP").await;
    let mis = app.client("MIS").await;
    let path = format!("/admin/clients/{msp}/connections");
    let calls = (0..16).map(|_| {
        app.req(Method::PUT, &path)
            .json(&json!({"consumer_id": mis, "redirect_uri": "https://a.example.com"}))
            .send()
    });
    let statuses: Vec<u16> = futures_join(calls)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM connections").await, 1);
}

async fn futures_join<
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
>(
    futs: impl Iterator<Item = F>,
) -> Vec<reqwest::Response> {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task").expect("response"));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_rejects_unknown_client_unknown_consumer_and_plain_http() {
    let app = spawn_app().await;
    let msp = app.client("MSP").await;
    let mis = app.client("MIS").await;
    let res = app
        .send(
            Method::PUT,
            &format!("/admin/clients/{}/connections", Uuid::now_v7()),
            Some(json!({"consumer_id": mis, "redirect_uri": "https://a.example.com"})),
        )
        .await;
    assert_error(res, 404, "not_found").await;
    let res = app
        .send(
            Method::PUT,
            &format!("/admin/clients/{msp}/connections"),
            Some(json!({"consumer_id": Uuid::now_v7(), "redirect_uri": "https://a.example.com"})),
        )
        .await;
    let body = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&body, "$.consumer_id"), vec!["existence"]);
    assert_eq!(
        body["error"]["invalid"][0]["rules"][0]["description"],
        "does not exist"
    );
    let res = app
        .send(
            Method::PUT,
            &format!("/admin/clients/{msp}/connections"),
            Some(json!({"consumer_id": mis, "redirect_uri": "http://a.example.com"})),
        )
        .await;
    let body = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&body, "$.redirect_uri"), vec!["format"]);
    let res = app.send(Method::PUT, &format!("/admin/clients/{msp}/connections"), Some(json!({"consumer_id": mis, "redirect_uri": "https://a.example.com", "secret": "chosen"}))).await;
    let body = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&body, "$.secret"), vec!["schema"]);
    assert_eq!(app.count("SELECT count(*) AS n FROM connections").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_hidden_on_every_read_path() {
    let app = spawn_app().await;
    let msp = app.client("MSP").await;
    let mis = app.client("MIS").await;
    let (id, _) = app.connection(msp, mis, "https://a.example.com").await;
    let reads: Vec<Value> = vec![
        json_of(
            app.send(
                Method::GET,
                &format!("/admin/clients/{msp}/connections"),
                None,
            )
            .await,
        )
        .await["data"][0]
            .clone(),
        json_of(
            app.send(
                Method::GET,
                &format!("/admin/clients/{msp}/connections/{id}"),
                None,
            )
            .await,
        )
        .await["data"]
            .clone(),
        json_of(
            app.send(
                Method::PATCH,
                &format!("/admin/clients/{msp}/connections/{id}"),
                Some(json!({"redirect_uri": "https://c.example.com"})),
            )
            .await,
        )
        .await["data"]
            .clone(),
        json_of(
            app.req(Method::GET, &format!("/api/clients/{msp}/connections/{id}"))
                .with_caller(msp)
                .send()
                .await
                .unwrap(),
        )
        .await["data"]
            .clone(),
    ];
    for read in reads {
        assert_eq!(read["id"], id.to_string(), "{read}");
        let mut keys: Vec<&String> = read.as_object().unwrap().keys().collect();
        keys.sort();
        let expected = [
            "client_id",
            "consumer_id",
            "id",
            "inserted_at",
            "is_public",
            "redirect_uri",
            "updated_at",
        ];
        assert_eq!(keys, expected);
        assert_eq!(read["is_public"], false);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_secret_rules() {
    let app = spawn_app().await;
    let msp = app.client("MSP").await;
    let mis = app.client("MIS").await;
    let other_mis = app.client("MIS").await;
    let (mis_self, mis_secret) = app.connection(mis, mis, "https://mis.example.com").await;
    let (other_self, other_secret) = app
        .connection(other_mis, other_mis, "https://other.example.com")
        .await;
    let (conn, old) = app.connection(msp, mis, "https://mis.example.com/cb").await;
    let refresh = |client: Uuid, id: Uuid| {
        format!("/admin/clients/{client}/connections/{id}/actions/refresh_secret")
    };

    // A self-connection needs no api-key.
    let res = app
        .send(Method::PATCH, &refresh(other_mis, other_self), None)
        .await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    let new_other = body["data"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_other, other_secret);
    assert_eq!(body["data"]["id"], other_self.to_string());

    // Someone else's connection: the consumer's own secret is required.
    let res = app.send(Method::PATCH, &refresh(msp, conn), None).await;
    let body = assert_error(res, 401, "access_denied").await;
    assert_eq!(body["error"]["message"], "api-key header not set");
    let res = app
        .req(Method::PATCH, &refresh(msp, conn))
        .header("api-key", "not-a-secret")
        .send()
        .await
        .unwrap();
    let body = assert_error(res, 401, "access_denied").await;
    assert_eq!(body["error"]["message"], "invalid api-key header");
    // The old secret of another MIS no longer authenticates; its new one does, but is not the consumer.
    let res = app
        .req(Method::PATCH, &refresh(msp, conn))
        .header("api-key", &other_secret)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "access_denied").await;
    let res = app
        .req(Method::PATCH, &refresh(msp, conn))
        .header("api-key", &new_other)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM connections WHERE id = '{conn}' AND secret_hash = decode('{}', 'hex')", hex(&SecretHash::of(&old)))).await, 1);

    let res = app
        .req(Method::PATCH, &refresh(msp, conn))
        .header("api-key", &mis_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let new = json_of(res).await["data"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM connections WHERE id = '{conn}' AND secret_hash = decode('{}', 'hex')", hex(&SecretHash::of(&new)))).await, 1);
    assert!(!app.dump().await.contains(&new));
    let _ = mis_self;

    let res = app
        .send(Method::PATCH, &refresh(msp, Uuid::now_v7()), None)
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_is_204_then_404() {
    let app = spawn_app().await;
    let msp = app.client("MSP").await;
    let mis = app.client("MIS").await;
    let (id, _) = app.connection(msp, mis, "https://a.example.com").await;
    let res = app
        .send(
            Method::DELETE,
            &format!("/admin/clients/{mis}/connections/{id}"),
            None,
        )
        .await;
    assert_error(res, 404, "not_found").await;
    let res = app
        .send(
            Method::DELETE,
            &format!("/admin/clients/{msp}/connections/{id}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.text().await.unwrap(), "");
    let res = app
        .send(
            Method::DELETE,
            &format!("/admin/clients/{msp}/connections/{id}"),
            None,
        )
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_defaults_bounds_and_filters() {
    let app = spawn_app().await;
    let msp = app.client("MSP").await;
    let mut consumers = Vec::new();
    for i in 0..5 {
        let mis = app.client("MIS").await;
        app.connection(msp, mis, &format!("https://m{i}.example.com"))
            .await;
        consumers.push(mis);
    }
    let base = format!("/admin/clients/{msp}/connections");
    let body = json_of(app.send(Method::GET, &base, None).await).await;
    assert_eq!(
        body["paging"],
        json!({"page_number": 1, "page_size": 50, "total_entries": 5, "total_pages": 1})
    );

    let body = json_of(
        app.send(Method::GET, &format!("{base}?page=2&page_size=2"), None)
            .await,
    )
    .await;
    assert_eq!(
        body["paging"],
        json!({"page_number": 2, "page_size": 2, "total_entries": 5, "total_pages": 3})
    );
    let page2: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["consumer_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        page2,
        vec![consumers[2].to_string(), consumers[3].to_string()]
    );

    let body = json_of(app.send(Method::GET, &format!("{base}?page=9"), None).await).await;
    assert_eq!(body["data"], json!([]));
    let body = json_of(
        app.send(Method::GET, &format!("{base}?page_size=50"), None)
            .await,
    )
    .await;
    assert_eq!(body["paging"]["page_size"], 50);

    for (query, entry) in [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=x", "page"),
        ("page_size=0", "page_size"),
        ("page_size=51", "page_size"),
        ("page_size=1.5", "page_size"),
        ("consumer_id=nope", "consumer_id"),
    ] {
        let res = app
            .send(Method::GET, &format!("{base}?{query}"), None)
            .await;
        let body = assert_error(res, 422, "validation_failed").await;
        assert_eq!(
            body["error"]["invalid"][0]["entry_type"], "query_parameter",
            "{query}"
        );
        assert_eq!(body["error"]["invalid"][0]["entry"], entry, "{query}");
    }

    let body = json_of(
        app.send(
            Method::GET,
            &format!("{base}?consumer_id={}", consumers[4]),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(body["paging"]["total_entries"], 1);
    let body = json_of(
        app.send(
            Method::GET,
            &format!("{base}?redirect_uri=M3.EXAMPLE"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(body["paging"]["total_entries"], 1);
    assert_eq!(body["data"][0]["redirect_uri"], "https://m3.example.com");
    // LIKE wildcards in the filter are literal.
    let body = json_of(
        app.send(Method::GET, &format!("{base}?redirect_uri=%25"), None)
            .await,
    )
    .await;
    assert_eq!(body["paging"]["total_entries"], 0);
}
