//! Internal role operations: the roles of an employee, bulk deactivation by employee and by
//! legal entity (spec §4.3).

use reqwest::Method;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn roles_of_an_employee_and_bulk_deactivation() {
    let c = clinic().await;
    let app = &c.app;
    c.role().await;
    let s2 = app
        .service(c.caller.le, "ACTIVE", Some("FAMILY_DOCTOR"))
        .await;
    assert_eq!(app.create(c.caller, c.employee, s2).await.status(), 201);
    let e2 = app
        .employee(c.caller.le, "APPROVED", Some("FAMILY_DOCTOR"))
        .await;
    assert_eq!(app.create(c.caller, e2, s2).await.status(), 201);

    let res = app
        .req(
            Method::GET,
            &format!(
                "/admin/employees/{}/employee_roles?status=active",
                c.employee
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res).await["data"].as_array().unwrap().len(), 2);
    let res = app
        .req(
            Method::GET,
            &format!("/admin/employees/{}/employee_roles?status=gone", c.employee),
        )
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "validation_failed", None).await;

    let actor = uuid::Uuid::new_v4();
    let res = app
        .req(
            Method::PATCH,
            &format!(
                "/admin/employees/{}/employee_roles/actions/deactivate",
                c.employee
            ),
        )
        .header("x-consumer-id", actor.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res).await["data"]["deactivated"], 2);
    let res = app
        .req(
            Method::GET,
            &format!(
                "/admin/employees/{}/employee_roles?status=ACTIVE",
                c.employee
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res).await["data"].as_array().unwrap().len(), 0);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'UPDATE' AND actor_id = '{actor}'"
        ))
        .await,
        2
    );
    // The legal entity closes: its remaining ACTIVE role goes too; a second call finds none.
    for expected in [1, 0] {
        let res = app
            .req(
                Method::PATCH,
                &format!(
                    "/admin/legal_entities/{}/employee_roles/actions/deactivate",
                    c.caller.le
                ),
            )
            .header("x-consumer-id", actor.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(res).await["data"]["deactivated"], expected);
    }
    let res = app
        .req(
            Method::PATCH,
            &format!(
                "/admin/legal_entities/{}/employee_roles/actions/deactivate",
                c.caller.le
            ),
        )
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "access_denied", None).await;
}

#[test]
fn the_binary_answers_help_and_version() {
    testkit::assert_cli(
        env!("CARGO_BIN_EXE_employee-roles"),
        "employee-roles",
        env!("CARGO_PKG_VERSION"),
        &["serve", "migrate", "healthcheck"],
    );
}
