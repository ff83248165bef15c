//! The trust boundaries, from outside: `/admin` needs the admin token (two during a rotation),
//! and public routes believe identity headers only under the gatekeeper's signature.

use reqwest::Method;
use serde_json::json;
use testkit::access::{self, ADMIN_TOKEN, NEXT_ADMIN_TOKEN, SIGNING_KEY};
use uuid::Uuid;

use testkit::http::assert_error;

use crate::helpers::{WithCaller, spawn_app, spawn_with};

const CLIENT_TYPES: &str = "SELECT count(*) AS n FROM client_types";

fn client_type() -> serde_json::Value {
    json!({"client_type": {"name": format!("T-{}", Uuid::now_v7()), "scope": "a:read"}})
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_routes_refuse_a_missing_or_wrong_token_and_do_nothing() {
    let app = spawn_app().await;
    let before = app.count(CLIENT_TYPES).await;
    let url = format!("{}/admin/client_types", app.address);

    let res = app
        .http
        .post(&url)
        .json(&client_type())
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_error(
        res,
        401,
        "access_denied",
        Some("Admin credential required."),
    )
    .await;

    for authorization in [
        "Bearer not-the-admin-token-at-all",
        "Basic dGVzdDp0ZXN0",
        "Bearer",
    ] {
        let res = app
            .http
            .post(&url)
            .header("authorization", authorization)
            .json(&client_type())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{authorization}");
    }
    // Reads too, paths that do not exist (the internal route table is not revealed), and paths
    // the router decodes into /admin.
    for path in ["/admin/clients", "/admin/no-such-thing", "/%61dmin/clients"] {
        let res = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
    assert_eq!(app.count(CLIENT_TYPES).await, before);

    let res = app
        .http
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&client_type())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(app.count(CLIENT_TYPES).await, before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_admin_tokens_work_during_a_rotation_and_a_hash_may_stand_for_a_token() {
    let digest = hex_sha256(NEXT_ADMIN_TOKEN);
    let app = spawn_with(|s| {
        s.admin.token_sha256 = vec![digest];
    })
    .await;
    for token in [ADMIN_TOKEN, NEXT_ADMIN_TOKEN] {
        let res = app
            .http
            .get(format!("{}/admin/client_types", app.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{token}");
    }
}

fn hex_sha256(value: &str) -> String {
    ehealth_core::SecretHash::of(value)
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn public_routes_believe_only_signed_recent_identity() {
    let app = spawn_app().await;
    let msp = app.client("MSP").await;
    let mis = app.client("MIS").await;
    let (conn, _) = app.connection(msp, mis, "https://mis.example.com/cb").await;
    let path = format!("/api/clients/{msp}/connections/{conn}");
    let forged = |method: Method| {
        app.req(method, &path)
            .header("x-consumer-id", Uuid::now_v7().to_string())
            .header(
                "x-consumer-metadata",
                json!({"client_id": msp, "scope": "connection:write"}).to_string(),
            )
    };
    let patch = json!({"redirect_uri": "https://evil.example.com/cb"});

    // Unsigned, signed by a key the service does not hold, too long ago, or for another
    // request (a GET's signature on a PATCH): refused, and nothing changes.
    let other_key = "another-signing-key-0000000000000000000000";
    let get_signature = access::signed(forged(Method::GET))
        .build()
        .unwrap()
        .headers()["x-consumer-signature"]
        .clone();
    let patch_forged = || forged(Method::PATCH).json(&patch);
    let refused = [
        (patch_forged(), "Missing header x-consumer-signature"),
        (
            access::signed_with(patch_forged(), other_key, access::now()),
            "Invalid header x-consumer-signature",
        ),
        (
            access::signed_with(patch_forged(), SIGNING_KEY, access::now() - 31),
            "Expired header x-consumer-signature",
        ),
        (
            patch_forged().header("x-consumer-signature", get_signature),
            "Invalid header x-consumer-signature",
        ),
    ];
    for (request, message) in refused {
        let res = request.send().await.unwrap();
        assert_error(res, 401, "access_denied", Some(message)).await;
    }

    let redirect = "SELECT redirect_uri AS t FROM connections";
    assert_eq!(
        app.texts(redirect).await,
        vec!["https://mis.example.com/cb"]
    );

    // Signed as the gatekeeper signs: served.
    let res = app
        .req(Method::PATCH, &path)
        .with_caller(msp)
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.texts(redirect).await,
        vec!["https://evil.example.com/cb"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn either_signing_key_is_believed_during_a_rotation() {
    let next_key = "the-next-identity-signing-key-000000000000";
    let app = spawn_with(|s| {
        s.identity.signing_keys = vec![SIGNING_KEY.to_owned().into(), next_key.to_owned().into()];
    })
    .await;
    let msp = app.client("MSP").await;
    let path = format!("/api/clients/{msp}/connections");
    for key in [SIGNING_KEY, next_key] {
        let req = app
            .req(Method::GET, &path)
            .header("x-consumer-id", Uuid::now_v7().to_string())
            .header("x-consumer-metadata", json!({"client_id": msp}).to_string());
        let res = access::signed_with(req, key, access::now())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{key}");
    }
}
