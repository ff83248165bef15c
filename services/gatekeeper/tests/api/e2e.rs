//! End to end through the gatekeeper with the default route file (deploy/config): login →
//! authorize → code exchange → seeds 000, 001, 002, each with its 401 and 403.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::world::{PASSWORD, REDIRECT, World};

const SCOPE: &str = "connection:read connection:write connection:delete";

#[tokio::test(flavor = "multi_thread")]
async fn oauth_flow_then_seeds_000_001_002() {
    let w = world().await;
    let gw = default_gateway(&w, "http://127.0.0.1:4030").await;
    // The MIS may act on the clinic's connections, including deleting them.
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/clients/{}", w.mis),
            Some(json!({"client": {"priv_settings": {"access_type": "DIRECT", "broker_scope": SCOPE}}})),
        )
        .await;
    // authorize needs the login token; the user comes from it, never from a header the caller sends.
    let res = gw
        .req(Method::POST, "/oauth/apps/authorize")
        .header("x-consumer-id", w.user.to_string())
        .json(&json!({"app": {"client_id": w.msp, "redirect_uri": REDIRECT}}))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "access_denied", None).await;
    // login → authorize → exchange, each through the gateway.
    let token = token_through(&gw, &w, SCOPE).await;
    let narrow = token_through(&gw, &w, "connection:read").await;

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

/// The gateway in front of mithril-api, auth-token and employee-roles, with the default routes.
async fn default_gateway(w: &World, employee_roles: &str) -> Gateway {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/config/gatekeeper.yaml"
    ))
    .unwrap()
    .replace("http://127.0.0.1:4010", &w.app.mithril)
    .replace("http://127.0.0.1:4020", &w.app.auth)
    .replace("http://127.0.0.1:4030", employee_roles);
    gateway(&yaml, &w.app.auth, |_| {}).await
}

/// login → authorize → exchange, all through the gateway: an access token with `scope`.
async fn token_through(gw: &Gateway, w: &World, scope: &str) -> String {
    let res = gw
        .req(Method::POST, "/auth/login")
        .json(
            &json!({"token": {"grant_type": "password", "email": w.email, "password": PASSWORD,
                                "client_id": w.front, "scope": "app:authorize"}}),
        )
        .send()
        .await
        .unwrap();
    let login = json_of(res).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = gw
        .req(Method::POST, "/oauth/apps/authorize")
        .bearer_auth(&login)
        // A spoofed user: the gateway replaces it with the login token's user.
        .header("x-consumer-id", "00000000-0000-0000-0000-000000000000")
        .json(&json!({"app": {"client_id": w.msp, "redirect_uri": REDIRECT, "scope": scope}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let code = json_of(res).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = gw
        .req(Method::POST, "/oauth/tokens")
        .json(
            &json!({"token": {"grant_type": "authorization_code", "client_id": w.msp,
            "client_secret": w.secret, "code": code, "redirect_uri": REDIRECT}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    json_of(res).await["data"]["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_004_through_the_gateway() {
    let w = world().await;
    // employee-roles with the clinic (the MSP client is the legal entity) in its registry.
    let prm = testkit::TestDb::new(
        "prm",
        employee_roles::MIGRATIONS,
        employee_roles::MIGRATION_LOCK_KEY,
    )
    .await
    .unwrap();
    let mut s = employee_roles::Settings::defaults().unwrap();
    s.server.port = 0;
    s.server.workers = 1;
    s.database.url = prm.url.clone().into();
    s.admin = testkit::access::admin_settings();
    s.identity = testkit::access::identity_settings();
    let roles_app = employee_roles::Application::build(s).await.unwrap();
    let roles = format!("http://127.0.0.1:{}", roles_app.port());
    tokio::spawn(roles_app.run_until_stopped());
    let http = reqwest::Client::new();
    let put = |path: String, body: Value| {
        http.put(format!("{roles}{path}"))
            .bearer_auth(testkit::access::ADMIN_TOKEN)
            .header("x-consumer-id", w.user.to_string())
            .json(&body)
            .send()
    };
    let (employee, service) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    for (path, body) in [
        (
            format!("/admin/legal_entities/{}", w.msp),
            json!({"type": "PRIMARY_CARE", "status": "ACTIVE", "is_active": true}),
        ),
        (
            format!("/admin/employees/{employee}"),
            json!({"legal_entity_id": w.msp, "party_id": uuid::Uuid::new_v4(),
            "employee_type": "DOCTOR", "status": "APPROVED", "is_active": true,
            "speciality": {"speciality": "FAMILY_DOCTOR", "speciality_officio": true}}),
        ),
        (
            format!("/admin/healthcare_services/{service}"),
            json!({"legal_entity_id": w.msp, "division_id": uuid::Uuid::new_v4(),
            "speciality_type": "FAMILY_DOCTOR", "category": "MSP", "status": "ACTIVE", "is_active": true}),
        ),
    ] {
        assert_eq!(put(path, body).await.unwrap().status(), 201);
    }
    let gw = default_gateway(&w, &roles).await;
    let all = "employee_role:read employee_role:write";
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/clients/{}", w.mis),
            Some(json!({"client": {"priv_settings": {"access_type": "DIRECT", "broker_scope": all}}})),
        )
        .await;
    let token = token_through(&gw, &w, all).await;
    let reader = token_through(&gw, &w, "employee_role:read").await;
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

    // Create (employee_role:write) with the caller's legal entity taken from the token.
    let body = json!({"employee_id": employee, "healthcare_service_id": service});
    let res = call(
        Some(&reader),
        Method::POST,
        "/api/employee_roles".into(),
        Some(body.clone()),
    )
    .await
    .unwrap();
    assert_error(
        res,
        403,
        "forbidden",
        Some("Invalid scopes. Missing allowances: employee_role:write"),
    )
    .await;
    let res = call(
        Some(&token),
        Method::POST,
        "/api/employee_roles".into(),
        Some(body),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let role = json_of(res).await["data"].clone();
    assert_eq!(role["inserted_by"], w.user.to_string());
    let id = role["id"].as_str().unwrap().to_owned();

    // Read (employee_role:read).
    let res = call(
        Some(&reader),
        Method::GET,
        format!("/api/employee_roles/{id}"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let res = call(
        Some(&reader),
        Method::GET,
        format!("/api/employee_roles?employee_id={employee}"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(json_of(res).await["paging"]["total_entries"], 1);

    // Seed 004: deactivate, with its 401 and 403.
    let deactivate = format!("/api/employee_roles/{id}/actions/deactivate");
    let res = call(None, Method::PATCH, deactivate.clone(), None)
        .await
        .unwrap();
    assert_error(res, 401, "access_denied", None).await;
    let res = call(Some(&reader), Method::PATCH, deactivate.clone(), None)
        .await
        .unwrap();
    assert_error(
        res,
        403,
        "forbidden",
        Some("Invalid scopes. Missing allowances: employee_role:write"),
    )
    .await;
    let res = call(Some(&token), Method::PATCH, deactivate.clone(), None)
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let role = json_of(res).await["data"].clone();
    assert_eq!(role["status"], "INACTIVE");
    assert_eq!(role["updated_by"], w.user.to_string());
    let res = call(Some(&token), Method::PATCH, deactivate, None)
        .await
        .unwrap();
    assert_error(
        res,
        409,
        "request_conflict",
        Some("INACTIVE employee role cannot be DEACTIVATED"),
    )
    .await;
}
