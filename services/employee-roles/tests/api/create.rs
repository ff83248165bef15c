//! POST /api/employee_roles: every check of spec §1.1 in order, the race, the audit row, bad
//! input that writes nothing.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn creates_an_active_role_with_its_audit_row() {
    let c = clinic().await;
    let res = c.app.create(c.caller, c.employee, c.service).await;
    assert_eq!(res.status(), 201);
    let body = json_of(res).await;
    assert_eq!(body["meta"]["code"], 201);
    let role = &body["data"];
    let keys: Vec<&str> = role
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "employee_id",
            "end_date",
            "healthcare_service_id",
            "id",
            "inserted_at",
            "inserted_by",
            "is_active",
            "start_date",
            "status",
            "updated_at",
            "updated_by"
        ]
    );
    assert_eq!(role["status"], "ACTIVE");
    assert_eq!(role["is_active"], true);
    assert_eq!(role["end_date"], serde_json::Value::Null);
    assert_eq!(role["employee_id"], c.employee.to_string());
    assert_eq!(role["inserted_by"], c.caller.user.to_string());
    assert_eq!(role["updated_by"], c.caller.user.to_string());
    assert!(role["start_date"].as_str().unwrap().ends_with('Z'));
    let id = role["id"].as_str().unwrap();
    assert_eq!(
        c.app
            .count(&format!(
                "SELECT count(*) AS n FROM audit_log WHERE table_name = 'employee_roles' AND record_id = '{id}'
                 AND action = 'INSERT' AND actor_id = '{}' AND changes->>'status' = 'ACTIVE'",
                c.caller.user
            ))
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_in_order() {
    let c = clinic().await;
    let app = &c.app;
    // 409 when the legal entity is not ACTIVE or SUSPENDED (checked before the body's ids).
    for status in ["CLOSED", "REORGANIZED"] {
        let le = app.legal_entity(status).await;
        let caller = Caller {
            user: c.caller.user,
            le,
        };
        let res = app
            .create(caller, uuid::Uuid::new_v4(), uuid::Uuid::new_v4())
            .await;
        assert_error(
            res,
            409,
            "request_conflict",
            Some("Legal entity must be ACTIVE or SUSPENDED"),
        )
        .await;
    }
    // An unknown legal entity is not ACTIVE either.
    let stranger = Caller {
        user: c.caller.user,
        le: uuid::Uuid::new_v4(),
    };
    let res = app.create(stranger, c.employee, c.service).await;
    assert_error(
        res,
        409,
        "request_conflict",
        Some("Legal entity must be ACTIVE or SUSPENDED"),
    )
    .await;
    // A SUSPENDED legal entity may still add roles.
    let suspended = app.legal_entity("SUSPENDED").await;
    let e = app
        .employee(suspended, "APPROVED", Some("PEDIATRICIAN"))
        .await;
    let s = app.service(suspended, "ACTIVE", Some("PEDIATRICIAN")).await;
    let res = app
        .create(
            Caller {
                user: c.caller.user,
                le: suspended,
            },
            e,
            s,
        )
        .await;
    assert_eq!(res.status(), 201);

    // 422: the service, then the employee, must exist with is_active.
    let res = app.create(c.caller, c.employee, uuid::Uuid::new_v4()).await;
    assert_invalid(
        res,
        "$.healthcare_service_id",
        Some("Healthcare service not found"),
    )
    .await;
    let res = app
        .create(c.caller, uuid::Uuid::new_v4(), uuid::Uuid::new_v4())
        .await;
    assert_invalid(res, "$.healthcare_service_id", None).await;
    let res = app.create(c.caller, uuid::Uuid::new_v4(), c.service).await;
    assert_invalid(res, "$.employee_id", Some("Employee not found")).await;
    app.exec(&format!(
        "UPDATE employees SET is_active = false WHERE id = '{}'",
        c.employee
    ))
    .await;
    let res = app.create(c.caller, c.employee, c.service).await;
    assert_invalid(res, "$.employee_id", Some("Employee not found")).await;
    app.exec(&format!(
        "UPDATE employees SET is_active = true WHERE id = '{}'",
        c.employee
    ))
    .await;

    // 409 duplicate ACTIVE pair.
    assert_eq!(
        app.create(c.caller, c.employee, c.service).await.status(),
        201
    );
    let res = app.create(c.caller, c.employee, c.service).await;
    assert_error(
        res,
        409,
        "request_conflict",
        Some("Duplicated employee role for this employee and healthcare service"),
    )
    .await;

    // The service must be the caller's and ACTIVE.
    let other = app.legal_entity("ACTIVE").await;
    let foreign_service = app.service(other, "ACTIVE", Some("FAMILY_DOCTOR")).await;
    let res = app.create(c.caller, c.employee, foreign_service).await;
    assert_invalid(
        res,
        "$.healthcare_service_id",
        Some("Healthcare service should belong to your legal entity"),
    )
    .await;
    let inactive_service = app
        .service(c.caller.le, "INACTIVE", Some("FAMILY_DOCTOR"))
        .await;
    let res = app.create(c.caller, c.employee, inactive_service).await;
    assert_error(
        res,
        409,
        "request_conflict",
        Some("Healthcare service is not active"),
    )
    .await;

    // The employee must be the caller's, APPROVED, with the service's speciality.
    let service2 = app
        .service(c.caller.le, "ACTIVE", Some("FAMILY_DOCTOR"))
        .await;
    let foreign_employee = app.employee(other, "APPROVED", Some("FAMILY_DOCTOR")).await;
    let res = app.create(c.caller, foreign_employee, service2).await;
    assert_invalid(
        res,
        "$.employee_id",
        Some("Employee should belong to your legal entity"),
    )
    .await;
    for status in ["NEW", "DISMISSED"] {
        let e = app
            .employee(c.caller.le, status, Some("FAMILY_DOCTOR"))
            .await;
        let res = app.create(c.caller, e, service2).await;
        assert_error(res, 409, "request_conflict", Some("Employee is not active")).await;
    }
    for speciality in [Some("PEDIATRICIAN"), None] {
        let e = app.employee(c.caller.le, "APPROVED", speciality).await;
        let res = app.create(c.caller, e, service2).await;
        assert_invalid(
            res,
            "$.employee_id",
            Some("Employee speciality does not match healthcare service speciality"),
        )
        .await;
    }
    // An INACTIVE history row does not block a new ACTIVE role.
    app.exec("UPDATE employee_roles SET status = 'INACTIVE'")
        .await;
    assert_eq!(
        app.create(c.caller, c.employee, c.service).await.status(),
        201
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn services_without_speciality_type() {
    // Default: the speciality match is skipped (e.g. a PHARMACY category service).
    let c = clinic().await;
    let pharmacy = c.app.service(c.caller.le, "ACTIVE", None).await;
    assert_eq!(
        c.app.create(c.caller, c.employee, pharmacy).await.status(),
        201
    );
    // With require_speciality_type they are refused.
    let c = clinic_with(|s| s.roles.require_speciality_type = true).await;
    let pharmacy = c.app.service(c.caller.le, "ACTIVE", None).await;
    let res = c.app.create(c.caller, c.employee, pharmacy).await;
    assert_invalid(
        res,
        "$.healthcare_service_id",
        Some("Healthcare service has no speciality type"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_race_of_duplicates_gives_one_201() {
    let c = clinic().await;
    let results = join_all((0..16).map(|_| c.app.create(c.caller, c.employee, c.service))).await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses[0], 201, "{statuses:?}");
    assert!(statuses[1..].iter().all(|s| *s == 409), "{statuses:?}");
    assert_eq!(
        c.app
            .count("SELECT count(*) AS n FROM employee_roles")
            .await,
        1
    );
    assert_eq!(
        c.app
            .count("SELECT count(*) AS n FROM audit_log WHERE table_name = 'employee_roles'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_changes_nothing() {
    let c = clinic().await;
    let before = c.app.snapshot().await;
    let post = |body: reqwest::Body, ctype: Option<&str>| {
        let mut r = c
            .app
            .as_caller(c.caller, Method::POST, "/api/employee_roles")
            .body(body);
        if let Some(t) = ctype {
            r = r.header("content-type", t);
        }
        r.send()
    };
    let json_ct = Some("application/json");
    let res = post("{not json".into(), json_ct).await.unwrap();
    assert_error(res, 400, "request_malformed", None).await;
    let res = post("{}".into(), Some("text/plain")).await.unwrap();
    assert_eq!(res.status(), 415);
    let res = post(vec![b' '; 70_000].into(), json_ct).await.unwrap();
    assert_eq!(res.status(), 413);
    for body in [
        json!({}),
        json!({"employee_id": c.employee}),
        json!({"employee_id": "not-a-uuid", "healthcare_service_id": c.service}),
        json!({"employee_id": 42, "healthcare_service_id": c.service}),
        json!({"employee_id": c.employee, "healthcare_service_id": c.service, "extra": 1}),
        json!([c.employee]),
    ] {
        let res = post(body.to_string().into(), json_ct).await.unwrap();
        assert_error(res, 422, "validation_failed", None).await;
    }
    // Without the gatekeeper's headers: 401.
    let res = c
        .app
        .req(Method::POST, "/api/employee_roles")
        .json(&json!({"employee_id": c.employee, "healthcare_service_id": c.service}))
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        401,
        "access_denied",
        Some("Missing header x-consumer-metadata"),
    )
    .await;
    assert_eq!(c.app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_party_gate_refuses_unverified_users_before_reading_the_body() {
    let c = clinic_with(|s| {
        s.roles.block_unverified_party_users = true;
        s.roles.unverified_party_period_days_allowed = 30;
    })
    .await;
    let app = &c.app;
    let denied = |res| {
        assert_error(
            res,
            403,
            "forbidden",
            Some("Access denied. Party is not verified"),
        )
    };
    // A user with no party in the registry data.
    denied(app.create(c.caller, c.employee, c.service).await).await;
    // NOT_VERIFIED, changed recently: refused, even with a body that fails the schema (#3 is
    // checked before #4), and nothing is written.
    let recent = (chrono::Utc::now() - chrono::Duration::days(29)).to_rfc3339();
    let party = app.party("NOT_VERIFIED", &recent, &[c.caller.user]).await;
    let before = app.snapshot().await;
    denied(app.create(c.caller, c.employee, c.service).await).await;
    let bad_body = || async {
        app.as_caller(c.caller, Method::POST, "/api/employee_roles")
            .json(&json!({"employee_id": "not-a-uuid"}))
            .send()
            .await
            .unwrap()
    };
    denied(bad_body().await).await;
    assert_eq!(app.snapshot().await, before);
    // NOT_VERIFIED since before the cut-off (midnight UTC, 30 days back): allowed through to
    // the body's checks.
    let old = (chrono::Utc::now() - chrono::Duration::days(31)).to_rfc3339();
    let res = app
        .put(
            &format!("/admin/parties/{party}"),
            json!({"verification_status": "NOT_VERIFIED", "updated_at": old, "users": [c.caller.user]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(bad_body().await.status(), 422);
    assert_eq!(
        app.create(c.caller, c.employee, c.service).await.status(),
        201
    );
    // VERIFIED, whenever it changed.
    let other = Caller {
        user: uuid::Uuid::new_v4(),
        le: c.caller.le,
    };
    app.party("VERIFIED", &chrono::Utc::now().to_rfc3339(), &[other.user])
        .await;
    let service = app
        .service(c.caller.le, "ACTIVE", Some("FAMILY_DOCTOR"))
        .await;
    assert_eq!(app.create(other, c.employee, service).await.status(), 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_party_gate_unverified_users_create_roles() {
    let c = clinic().await;
    let recent = chrono::Utc::now().to_rfc3339();
    c.app.party("NOT_VERIFIED", &recent, &[c.caller.user]).await;
    assert_eq!(
        c.app.create(c.caller, c.employee, c.service).await.status(),
        201
    );
}
