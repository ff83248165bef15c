//! Reference data upserts from the registry, the OpenAPI snapshot and the ops endpoints.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn upserts_are_idempotent_validated_and_audited() {
    let app = spawn().await;
    let le = Uuid::new_v4();
    let body = json!({"type": "PRIMARY_CARE", "status": "ACTIVE", "is_active": true});
    let res = app
        .put(&format!("/admin/legal_entities/{le}"), body.clone())
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .put(&format!("/admin/legal_entities/{le}"), body.clone())
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .put(
            &format!("/admin/legal_entities/{le}"),
            json!({"type": "PRIMARY_CARE", "status": "SUSPENDED", "is_active": true}),
        )
        .await;
    assert_eq!(json_of(res).await["data"]["status"], "SUSPENDED");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM audit_log WHERE record_id = '{le}' AND actor_id = '{}'",
            app.actor
        ))
        .await,
        3
    );

    let employee = Uuid::new_v4();
    let res = app
        .put(
            &format!("/admin/employees/{employee}"),
            employee_body(le, "APPROVED", Some("THERAPIST")),
        )
        .await;
    assert_eq!(res.status(), 201);
    let data = json_of(res).await["data"].clone();
    assert_eq!(data["speciality"]["speciality"], "THERAPIST");
    let res = app
        .put(
            &format!("/admin/employees/{employee}"),
            employee_body(le, "DISMISSED", None),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json_of(res).await["data"]["speciality"],
        serde_json::Value::Null
    );
    let service = Uuid::new_v4();
    let res = app
        .put(
            &format!("/admin/healthcare_services/{service}"),
            service_body(le, "ACTIVE", None),
        )
        .await;
    assert_eq!(res.status(), 201);

    // Refusals write nothing.
    let before = app.snapshot().await;
    let res = app
        .put(
            &format!("/admin/employees/{}", Uuid::new_v4()),
            employee_body(Uuid::new_v4(), "APPROVED", None),
        )
        .await;
    assert_invalid(res, "$.legal_entity_id", Some("Legal entity not found")).await;
    let res = app
        .put(
            &format!("/admin/healthcare_services/{}", Uuid::new_v4()),
            service_body(Uuid::new_v4(), "ACTIVE", None),
        )
        .await;
    assert_invalid(res, "$.legal_entity_id", None).await;
    for bad in [
        json!({"type": "PRIMARY_CARE", "status": "OPEN", "is_active": true}),
        json!({"type": "PRIMARY_CARE", "status": "ACTIVE"}),
        json!({"type": "PRIMARY_CARE", "status": "ACTIVE", "is_active": "yes"}),
        json!({"type": "PRIMARY_CARE", "status": "ACTIVE", "is_active": true, "x": 1}),
    ] {
        let res = app.put(&format!("/admin/legal_entities/{le}"), bad).await;
        assert_error(res, 422, "validation_failed", None).await;
    }
    let res = app
        .put("/admin/legal_entities/not-a-uuid", body.clone())
        .await;
    assert_error(res, 404, "not_found", None).await;
    let res = app
        .req(Method::PUT, &format!("/admin/legal_entities/{le}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        401,
        "access_denied",
        Some("Missing header x-consumer-id"),
    )
    .await;
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn ops_and_openapi_snapshot() {
    let app = spawn().await;
    assert_eq!(
        app.req(Method::GET, "/health")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.req(Method::GET, "/ready")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = app
        .req(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("employee_roles_http_requests_total"),
        "{metrics}"
    );
    let served: serde_json::Value = app
        .req(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    testkit::assert_openapi_snapshot(
        &served,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../proto-contracts/openapi/employee-roles.json"
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn parties_carry_their_users_exactly() {
    let app = spawn().await;
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let at = "2026-01-02T03:04:05Z";
    let party = app.party("VERIFIED", at, &[a, b]).await;
    let res = app
        .put(
            &format!("/admin/parties/{party}"),
            json!({"verification_status": "NOT_VERIFIED", "updated_at": at, "users": [b, c, c]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["data"]["verification_status"], "NOT_VERIFIED");
    assert_eq!(body["data"]["updated_at"], at);
    let mut want = vec![b.to_string(), c.to_string()];
    want.sort();
    assert_eq!(body["data"]["users"], json!(want));
    // A user moves to the party that names it last.
    let other = app.party("VERIFIED", at, &[c]).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM party_users WHERE user_id = '{c}' AND party_id = '{other}'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM audit_log WHERE table_name = 'parties' AND record_id = '{party}'"
        ))
        .await,
        2
    );
    // Bad input: a 422 and nothing written.
    let before = app.snapshot().await;
    for bad in [
        json!({"verification_status": "NOT_VERIFIED", "updated_at": at}),
        json!({"verification_status": "not verified", "updated_at": at, "users": []}),
        json!({"verification_status": "VERIFIED", "updated_at": "yesterday", "users": []}),
        json!({"verification_status": "VERIFIED", "updated_at": at, "users": ["x"]}),
        json!({"verification_status": "VERIFIED", "updated_at": at, "users": [], "colour": 1}),
    ] {
        let res = app
            .put(&format!("/admin/parties/{party}"), bad.clone())
            .await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    assert_eq!(app.snapshot().await, before);
}
