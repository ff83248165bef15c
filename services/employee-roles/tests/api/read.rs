//! GET /api/employee_roles and /api/employee_roles/{id}.

use reqwest::Method;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn get_by_id_404_403_200() {
    let c = clinic().await;
    let id = c.role().await;
    let res = c
        .app
        .as_caller(c.caller, Method::GET, &format!("/api/employee_roles/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["data"]["id"], id.to_string());
    assert!(body["data"].get("legal_entity_id").is_none());
    let other = Caller {
        user: c.caller.user,
        le: c.app.legal_entity("ACTIVE").await,
    };
    let res = c
        .app
        .as_caller(other, Method::GET, &format!("/api/employee_roles/{id}"))
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden", None).await;
    for missing in [uuid::Uuid::new_v4().to_string(), "nope".to_owned()] {
        let res = c
            .app
            .as_caller(
                c.caller,
                Method::GET,
                &format!("/api/employee_roles/{missing}"),
            )
            .send()
            .await
            .unwrap();
        assert_error(res, 404, "not_found", None).await;
    }
    c.app
        .exec("UPDATE employee_roles SET is_active = false")
        .await;
    let res = c
        .app
        .as_caller(c.caller, Method::GET, &format!("/api/employee_roles/{id}"))
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found", None).await;
    let res = c
        .app
        .req(Method::GET, &format!("/api/employee_roles/{id}"))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "access_denied", None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_paging_and_scoping() {
    let c = clinic().await;
    let app = &c.app;
    let first = c.role().await;
    let service2 = app
        .service(c.caller.le, "ACTIVE", Some("FAMILY_DOCTOR"))
        .await;
    let res = app.create(c.caller, c.employee, service2).await;
    assert_eq!(res.status(), 201);
    app.as_caller(
        c.caller,
        Method::PATCH,
        &format!("/api/employee_roles/{first}/actions/deactivate"),
    )
    .send()
    .await
    .unwrap();
    // Another legal entity's role never shows.
    let other_le = app.legal_entity("ACTIVE").await;
    let other = Caller {
        user: c.caller.user,
        le: other_le,
    };
    let oe = app
        .employee(other_le, "APPROVED", Some("FAMILY_DOCTOR"))
        .await;
    let os = app.service(other_le, "ACTIVE", Some("FAMILY_DOCTOR")).await;
    assert_eq!(app.create(other, oe, os).await.status(), 201);

    let list = |q: String| async move {
        let res = app
            .as_caller(c.caller, Method::GET, &format!("/api/employee_roles?{q}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{q}");
        json_of(res).await
    };
    let body = list(format!("employee_id={}", c.employee)).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["meta"]["type"], "list");
    assert_eq!(
        body["paging"],
        serde_json::json!({"page_number": 1, "page_size": 50, "total_entries": 2, "total_pages": 1})
    );
    let body = list("status=active".to_owned()).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["data"][0]["healthcare_service_id"],
        service2.to_string()
    );
    let body = list("status=INACTIVE".to_owned()).await;
    assert_eq!(body["data"][0]["id"], first.to_string());
    let body = list(format!("healthcare_service_id={}&status=Active", c.service)).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 0);
    let body = list(format!("employee_id={}&page=2&page_size=1", c.employee)).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["paging"]["total_pages"], 2);
    assert_eq!(
        list(format!("employee_id={oe}")).await["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    for (q, entry) in [
        ("", "employee_id"),
        ("page=1&page_size=10", "employee_id"),
        ("employee_id=nope", "employee_id"),
        ("healthcare_service_id=1", "healthcare_service_id"),
        ("status=DELETED", "status"),
        ("status=ACTIVE&page_size=301", "page_size"),
        ("status=ACTIVE&page=0", "page"),
    ] {
        let res = app
            .as_caller(c.caller, Method::GET, &format!("/api/employee_roles?{q}"))
            .send()
            .await
            .unwrap();
        let body = assert_error(res, 422, "validation_failed", None).await;
        assert_eq!(
            body["error"]["invalid"][0]["entry_type"], "query_parameter",
            "{q}"
        );
        assert_eq!(body["error"]["invalid"][0]["entry"], entry, "{q}");
    }
    let res = app
        .as_caller(
            c.caller,
            Method::GET,
            "/api/employee_roles?status=ACTIVE&page_size=300",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Gets by id are single reads: they share the worker's pipelined read connection, so 64 at
/// once open no connection beyond it. A connection lost under it is replaced: the read that
/// finds it gone is a 503, the next one is served.
#[tokio::test(flavor = "multi_thread")]
async fn gets_share_one_pipelined_connection_and_replace_a_lost_one() {
    const APP: &str = "roles_under_test";
    let c = clinic_with(|s| {
        s.server.workers = 1;
        testkit::pg::only_shared_reads(&mut s.database, APP);
    })
    .await;
    let id = c.role().await;
    let path = format!("/api/employee_roles/{id}");
    let get = || c.app.as_caller(c.caller, Method::GET, &path).send();
    let app_backends =
        format!("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = '{APP}'");
    assert_eq!(get().await.unwrap().status(), 200);

    // Every backend of the app goes, the pooled ones and the shared one; the call returns
    // once they have exited.
    c.app
        .exec(&format!(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = '{APP}'"
        ))
        .await;
    assert_eq!(c.app.count(&app_backends).await, 0);
    let res = get().await.unwrap();
    assert_eq!(res.headers()["retry-after"], "1");
    assert_error(
        res,
        503,
        "service_unavailable",
        Some("Database is unavailable. Try later."),
    )
    .await;

    let statuses = futures_util::future::join_all(
        (0..64).map(|_| async { get().await.unwrap().status().as_u16() }),
    )
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(c.app.count(&app_backends).await, 1);
}
