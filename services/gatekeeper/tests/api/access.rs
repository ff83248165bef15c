//! The gateway's side of the trust boundaries: its ops endpoints need the admin token, its
//! calls to auth-token carry its service credential, and what it tells the upstream about the
//! caller is signed, on both of its HTTP/1.1 paths.

use ehealth_core::identity_signature::{SignatureVerifier, SigningKey};
use reqwest::Method;
use serde_json::{Value, json};
use testkit::access::{ADMIN_TOKEN, SIGNING_KEY};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn ops_endpoints_that_change_or_reveal_need_the_admin_token() {
    let Setup { w, gw, .. } = setup().await;
    let (token, _) = w.access().await;
    let call = |method: Method, path: &str, bearer: Option<&str>| {
        let body = match path {
            "/explain" => json!({"method": "GET", "path": "/echo/read", "token": token}),
            _ => json!({"all": true}),
        };
        let mut r = gw.http.request(method.clone(), format!("{}{path}", gw.ops));
        if method == Method::POST {
            r = r.json(&body);
        }
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send()
    };
    for (method, path) in [
        (Method::POST, "/cache/purge"),
        (Method::POST, "/explain"),
        (Method::GET, "/routes"),
        (Method::POST, "/routes/reload"),
    ] {
        let res = call(method.clone(), path, None).await.unwrap();
        let body = assert_error(
            res,
            401,
            "access_denied",
            Some("Admin credential required."),
        )
        .await;
        assert!(body.get("data").is_none(), "{path}: {body}");
        let res = call(method.clone(), path, Some("not-the-admin-token-0000"))
            .await
            .unwrap();
        assert_error(res, 401, "access_denied", Some("Invalid admin credential.")).await;
        let res = call(method, path, Some(ADMIN_TOKEN)).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    // Escapes the router decodes do not get past the check.
    for path in ["/%63ache/purge", "/%72outes/reload", "/ro%75tes"] {
        let res = call(Method::POST, path, None).await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
    // The refused reload did nothing: one reload (the admitted one) since start.
    assert_eq!(gw.ops_get("/routes").await["data"]["generation"], 2);
    // Probes and scrapes need no credential.
    for path in ["/health", "/ready", "/metrics"] {
        let res = gw
            .http
            .get(format!("{}{path}", gw.ops))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_service_credential_is_a_503_not_an_invalid_token() {
    for credential in [None, Some("a-wrong-service-token-000000")] {
        let Setup { w, gw, .. } = setup_with(|s| {
            s.verify.service_token = credential.map(|c| c.to_owned().into());
        })
        .await;
        let (token, _) = w.access().await;
        let res = gw
            .authed(&w, &token, Method::GET, "/echo/read")
            .send()
            .await
            .unwrap();
        assert!(res.headers().contains_key("retry-after"));
        assert_error(res, 503, "service_unavailable", None).await;
    }
}

fn assert_signed_for(body: &Value, time_now: i64) {
    let h = &body["headers"];
    let target = match body["query"].as_str() {
        Some("") | None => body["path"].as_str().unwrap().to_owned(),
        Some(q) => format!("{}?{q}", body["path"].as_str().unwrap()),
    };
    let verifier =
        SignatureVerifier::new(vec![SigningKey::new(SIGNING_KEY.as_bytes()).unwrap()], 30);
    let values = ehealth_core::identity_signature::SIGNED_HEADERS
        .map(|name| h.get(name).and_then(Value::as_str).map(str::as_bytes));
    let signature = h["x-consumer-signature"].as_str().expect("signed");
    assert_eq!(
        verifier.verify(
            time_now,
            body["method"].as_str().unwrap().as_bytes(),
            target.as_bytes(),
            values,
            Some(signature.as_bytes()),
        ),
        Ok(()),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_identity_sent_upstream_is_signed_on_both_paths_and_inbound_signatures_dropped() {
    for own_http1 in [true, false] {
        let Setup { w, gw, .. } = setup_with(|s| s.forwarding.own_http1 = own_http1).await;
        let (token, _) = w.access().await;
        let forged = "t=1,v1=0000000000000000000000000000000000000000000000000000000000000000";
        for (method, path) in [
            (Method::GET, "/echo/read/x?a=1&b=%20"),
            (Method::POST, "/echo/read"),
        ] {
            let res = gw
                .authed(&w, &token, method, path)
                .header("x-consumer-signature", forged)
                .send()
                .await
                .unwrap();
            let body = echoed(res).await;
            assert_ne!(body["headers"]["x-consumer-signature"], forged);
            assert_signed_for(&body, testkit::access::now());
        }
        // Routes without an identity get no signature, and no inbound copy.
        let res = gw
            .req(Method::GET, "/open/x")
            .header("x-consumer-signature", forged)
            .send()
            .await
            .unwrap();
        let body = echoed(res).await;
        assert!(
            body["headers"].get("x-consumer-signature").is_none(),
            "{body}"
        );
    }
}
