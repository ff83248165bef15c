//! PATCH /api/employee_roles/{id}/actions/deactivate (seed 004): the checks in the seed's order,
//! the update, the audit row, and two concurrent deactivations.

use reqwest::Method;

use crate::helpers::*;

fn path(id: impl std::fmt::Display) -> String {
    format!("/api/employee_roles/{id}/actions/deactivate")
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivates_an_active_role() {
    let c = clinic().await;
    let id = c.role().await;
    let deactivator = Caller {
        user: uuid::Uuid::new_v4(),
        le: c.caller.le,
    };
    let res = c
        .app
        .as_caller(deactivator, Method::PATCH, &path(id))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let role = json_of(res).await["data"].clone();
    assert_eq!(role["status"], "INACTIVE");
    assert_eq!(role["is_active"], true, "is_active is not touched");
    assert!(role["end_date"].is_string());
    assert_eq!(role["updated_by"], deactivator.user.to_string());
    assert_eq!(role["inserted_by"], c.caller.user.to_string());
    assert_ne!(role["updated_at"], role["inserted_at"]);
    assert_eq!(
        c.app
            .count(&format!(
                "SELECT count(*) AS n FROM audit_log WHERE record_id = '{id}' AND action = 'UPDATE'
                 AND actor_id = '{}' AND changes->'status' = '[\"ACTIVE\", \"INACTIVE\"]'",
                deactivator.user
            ))
            .await,
        1
    );
    // Only ACTIVE → INACTIVE.
    let res = c
        .app
        .as_caller(c.caller, Method::PATCH, &path(id))
        .send()
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

#[tokio::test(flavor = "multi_thread")]
async fn checks_in_the_seed_order() {
    let c = clinic().await;
    let id = c.role().await;
    let closed = c.app.legal_entity("CLOSED").await;
    let other = c.app.legal_entity("ACTIVE").await;
    let before = c.app.snapshot().await;
    // 1. The legal entity must be ACTIVE or SUSPENDED: checked before the role is even looked up.
    let res = c
        .app
        .as_caller(
            Caller {
                user: c.caller.user,
                le: closed,
            },
            Method::PATCH,
            &path(uuid::Uuid::new_v4()),
        )
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        409,
        "request_conflict",
        Some("Legal entity must be ACTIVE or SUSPENDED"),
    )
    .await;
    // 2. The role must exist with is_active (an unknown id, a malformed id).
    let res = c
        .app
        .as_caller(c.caller, Method::PATCH, &path(uuid::Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found", None).await;
    let res = c
        .app
        .as_caller(c.caller, Method::PATCH, &path("not-a-uuid"))
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found", None).await;
    // 3. It must belong to the caller's legal entity.
    let res = c
        .app
        .as_caller(
            Caller {
                user: c.caller.user,
                le: other,
            },
            Method::PATCH,
            &path(id),
        )
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden", None).await;
    // Without the gatekeeper's headers: 401.
    let res = c.app.req(Method::PATCH, &path(id)).send().await.unwrap();
    assert_error(res, 401, "access_denied", None).await;
    assert_eq!(c.app.snapshot().await, before, "refusals wrote nothing");
    // A role with is_active = false is not found.
    c.app
        .exec(&format!(
            "UPDATE employee_roles SET is_active = false WHERE id = '{id}'"
        ))
        .await;
    let res = c
        .app
        .as_caller(c.caller, Method::PATCH, &path(id))
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found", None).await;
    // A SUSPENDED legal entity may deactivate.
    c.app
        .exec(&format!(
            "UPDATE employee_roles SET is_active = true WHERE id = '{id}'"
        ))
        .await;
    c.app
        .exec(&format!(
            "UPDATE legal_entities SET status = 'SUSPENDED' WHERE id = '{}'",
            c.caller.le
        ))
        .await;
    let res = c
        .app
        .as_caller(c.caller, Method::PATCH, &path(id))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_deactivations_one_200_one_409() {
    let c = clinic().await;
    for _ in 0..5 {
        c.app
            .exec("UPDATE employee_roles SET status = 'INACTIVE'")
            .await;
        let id = c.role().await;
        let (a, b) = tokio::join!(
            c.app.as_caller(c.caller, Method::PATCH, &path(id)).send(),
            c.app.as_caller(c.caller, Method::PATCH, &path(id)).send()
        );
        let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409]);
        assert_eq!(
            c.app
                .count(&format!("SELECT count(*) AS n FROM audit_log WHERE record_id = '{id}' AND action = 'UPDATE'"))
                .await,
            1
        );
    }
}
