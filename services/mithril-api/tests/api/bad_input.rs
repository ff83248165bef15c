//! Bad input on every endpoint that takes a body or ids: a 4xx envelope, and nothing written.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

struct Target {
    method: Method,
    path: String,
    /// Headers of a trusted caller, for the public routes.
    caller: Option<Uuid>,
}

async fn snapshot(app: &TestApp) -> Vec<String> {
    app.texts(
        "SELECT coalesce((SELECT string_agg(row_to_json(t)::text, ',' ORDER BY id) FROM client_types t), '') || '|' ||
                coalesce((SELECT string_agg(row_to_json(c)::text, ',' ORDER BY id) FROM clients c), '') || '|' ||
                coalesce((SELECT string_agg(row_to_json(x)::text, ',' ORDER BY id) FROM connections x), '') AS t",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_body_endpoint_rejects_bad_input_and_writes_nothing() {
    let app = spawn_app().await;
    let msp = app.client("MSP").await;
    let mis = app.client("MIS").await;
    let (conn, _) = app.connection(msp, mis, "https://a.example.com").await;
    let type_id = app.client_type_id("MSP").await;
    let targets = [
        Target {
            method: Method::POST,
            path: "/admin/client_types".into(),
            caller: None,
        },
        Target {
            method: Method::PUT,
            path: format!("/admin/client_types/{type_id}"),
            caller: None,
        },
        Target {
            method: Method::POST,
            path: "/admin/clients".into(),
            caller: None,
        },
        Target {
            method: Method::PUT,
            path: format!("/admin/clients/{msp}"),
            caller: None,
        },
        Target {
            method: Method::PATCH,
            path: format!("/admin/clients/{msp}"),
            caller: None,
        },
        Target {
            method: Method::PUT,
            path: format!("/admin/clients/{msp}/connections"),
            caller: None,
        },
        Target {
            method: Method::PATCH,
            path: format!("/admin/clients/{msp}/connections/{conn}"),
            caller: None,
        },
        Target {
            method: Method::PATCH,
            path: format!("/api/clients/{msp}/connections/{conn}"),
            caller: Some(msp),
        },
    ];
    let before = snapshot(&app).await;
    for t in &targets {
        let req = || {
            let r = app.req(t.method.clone(), &t.path);
            match t.caller {
                Some(c) => r.with_caller(c),
                None => r,
            }
        };
        // Malformed JSON.
        let res = req()
            .header("content-type", "application/json")
            .body("{\"a\":")
            .send()
            .await
            .unwrap();
        let body = assert_error(res, 400, "request_malformed").await;
        assert_eq!(
            body["error"]["message"], "Malformed request. Probably, you have sent corrupted JSON.",
            "{}",
            t.path
        );
        // Not JSON at all.
        let res = req()
            .header("content-type", "text/plain")
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_error(res, 415, "request_malformed").await;
        let res = req().body("{}").send().await.unwrap();
        assert_error(res, 415, "request_malformed").await;
        // Oversized.
        let big = json!({"redirect_uri": format!("https://{}.example.com", "a".repeat(70_000))});
        let res = req().json(&big).send().await.unwrap();
        assert_error(res, 413, "request_malformed").await;
        // Wrong types and unknown fields (wrapped where the endpoint wraps).
        let wrap = |v: serde_json::Value| {
            if t.path.starts_with("/admin/client_types") {
                json!({"client_type": v})
            } else if t.path.starts_with("/admin/clients") && !t.path.contains("/connections") {
                json!({"client": v})
            } else {
                v
            }
        };
        let res = req().json(&wrap(json!({"name": 7, "redirect_uri": 7, "scope": [], "user_id": "x", "consumer_id": 1}))).send().await.unwrap();
        assert_error(res, 422, "validation_failed").await;
        let res = req()
            .json(&wrap(json!({"surprise": true})))
            .send()
            .await
            .unwrap();
        let body = assert_error(res, 422, "validation_failed").await;
        assert!(
            rules_at(&body, "$.surprise").contains(&"schema".to_owned()),
            "{}: {body}",
            t.path
        );
        // A JSON array or scalar instead of an object.
        let res = req().json(&json!([1, 2])).send().await.unwrap();
        assert!(matches!(res.status().as_u16(), 400 | 422), "{}", t.path);
        // NUL in a string: PostgreSQL cannot store it, so the schema refuses it (422, never 500).
        let res = req()
            .json(&wrap(
                json!({"name": "a\u{0}b", "redirect_uri": "https://a.example.com/\u{0}"}),
            ))
            .send()
            .await
            .unwrap();
        let body = assert_error(res, 422, "validation_failed").await;
        let nul_refused = ["$.name", "$.redirect_uri"]
            .iter()
            .any(|at| rules_at(&body, at).contains(&"format".to_owned()));
        assert!(nul_refused, "{}: {body}", t.path);
    }
    // Wrapped endpoints: nothing but the resource key is read, so nothing else is accepted.
    let res = app
        .send(
            Method::POST,
            "/admin/client_types",
            Some(json!({"client_type": {"name": "x", "scope": "a"}, "client": {}})),
        )
        .await;
    let body = assert_error(res, 422, "validation_failed").await;
    assert_eq!(rules_at(&body, "$.client"), vec!["schema".to_owned()]);
    // Wrapped endpoints: a body without the resource key is a 400, as in the reference.
    let res = app
        .send(Method::POST, "/admin/clients", Some(json!({"name": "x"})))
        .await;
    assert_error(res, 400, "request_malformed").await;
    let res = app
        .send(
            Method::POST,
            "/admin/client_types",
            Some(json!({"name": "x", "scope": "a"})),
        )
        .await;
    assert_error(res, 400, "request_malformed").await;
    assert_eq!(before, snapshot(&app).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_ids_in_paths_are_404_and_in_queries_422() {
    let app = spawn_app().await;
    let msp = app.client("MSP").await;
    for (method, path) in [
        (Method::GET, "/admin/clients/not-a-uuid".to_owned()),
        (Method::GET, "/admin/clients/not-a-uuid/details".to_owned()),
        (Method::DELETE, "/admin/clients/123".to_owned()),
        (Method::GET, "/admin/client_types/zzz".to_owned()),
        (Method::GET, "/admin/clients/nope/connections".to_owned()),
        (
            Method::GET,
            format!("/admin/clients/{msp}/connections/nope"),
        ),
        (
            Method::DELETE,
            format!("/admin/clients/{msp}/connections/nope"),
        ),
        (
            Method::PATCH,
            format!("/admin/clients/{msp}/connections/nope/actions/refresh_secret"),
        ),
    ] {
        let res = app.send(method, &path, None).await;
        assert_error(res, 404, "not_found").await;
    }
    for path in [
        "/api/clients/nope/connections".to_string(),
        format!("/api/clients/{msp}/connections/nope"),
    ] {
        let res = app
            .req(Method::GET, &path)
            .with_caller(msp)
            .send()
            .await
            .unwrap();
        assert_error(res, 404, "not_found").await;
    }
    for query in ["consumer_id=1", "page=abc"] {
        let res = app
            .req(
                Method::GET,
                &format!("/api/clients/{msp}/connections?{query}"),
            )
            .with_caller(msp)
            .send()
            .await
            .unwrap();
        let body = assert_error(res, 422, "validation_failed").await;
        assert_eq!(body["error"]["invalid"][0]["entry_type"], "query_parameter");
    }
}

/// Query strings are decoded strictly: NUL, invalid UTF-8 and UUIDs in any but the hyphenated
/// form (the one the document names) are a 422 at the parameter, before the handler runs.
#[tokio::test(flavor = "multi_thread")]
async fn query_strings_with_nul_invalid_utf8_or_loose_uuids_are_422() {
    let app = spawn_app().await;
    let id = "0d9c2a4e-5a0e-4c38-9d1b-0f1e5c0a0020";
    let undashed = id.replace('-', "");
    for (query, entry) in [
        ("name=a%00b", "name"),
        ("name=%FF%FE", "name"),
        ("na%00me=x", "na\u{FFFD}me"),
        (&format!("id={undashed}") as &str, "id"),
        (&format!("id=%7B{id}%7D") as &str, "id"),
    ] {
        let res = app
            .send(Method::GET, &format!("/admin/clients?{query}"), None)
            .await;
        let body = assert_error(res, 422, "validation_failed").await;
        assert_eq!(body["error"]["invalid"][0]["entry"], entry, "{query}");
        assert_eq!(body["error"]["invalid"][0]["entry_type"], "query_parameter");
    }
    let res = app
        .send(Method::GET, &format!("/admin/users?ids={id},,{id}"), None)
        .await;
    assert_error(res, 422, "validation_failed").await;
    let res = app
        .send(Method::GET, &format!("/admin/users?ids={id},{id}"), None)
        .await;
    assert_eq!(res.status(), 200);
    // A NUL-free, valid query still works, with `+` as a space.
    let res = app
        .send(Method::GET, "/admin/clients?name=a+b%20c", None)
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let app = spawn_app().await;
    let res = app.send(Method::GET, "/nowhere", None).await;
    let body = assert_error(res, 404, "not_found").await;
    assert!(body["meta"]["url"].as_str().unwrap().ends_with("/nowhere"));
    let res = app
        .send(
            Method::POST,
            "/admin/clients/00000000-0000-0000-0000-000000000000/details",
            None,
        )
        .await;
    assert_error(res, 405, "method_not_allowed").await;
}
