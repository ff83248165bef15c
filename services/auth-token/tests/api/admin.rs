//! Revocation surface, expiry cleanup, and the OpenAPI snapshot.

use auth_token::cleanup;
use reqwest::Method;
use uuid::Uuid;

use crate::helpers::*;

async fn status_of_verify(w: &World, token: &str) -> u16 {
    w.verify(token, Some(&w.api_key)).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_delete_tokens() {
    let w = world().await;
    let (access, _) = w.access().await;
    let res = w
        .app
        .auth_req(
            Method::GET,
            &format!("/admin/tokens?user_id={}&name=access_token", w.user),
        )
        .send()
        .await
        .unwrap();
    let body = json_of(res).await;
    assert_eq!(body["paging"]["total_entries"], 1);
    let id = body["data"][0]["id"].as_str().unwrap().to_owned();
    assert!(body["data"][0].get("value").is_none() && body["data"][0].get("value_hash").is_none());
    let body = json_of(
        w.app
            .auth_req(Method::GET, &format!("/admin/tokens?client_id={}", w.msp))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        body["paging"]["total_entries"], 3,
        "code, refresh and access of the MSP"
    );
    let res = w
        .app
        .auth_req(Method::GET, "/admin/tokens?user_id=nope")
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "validation_failed", None).await;

    assert_eq!(
        w.app
            .auth_req(Method::DELETE, &format!("/admin/tokens/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(status_of_verify(&w, &access).await, 404);
    let res = w
        .app
        .auth_req(Method::DELETE, &format!("/admin/tokens/{id}"))
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found", None).await;

    let (access, _) = w.access().await;
    let res = w
        .app
        .auth_req(
            Method::DELETE,
            &format!("/admin/users/{}/tokens?client_id={}", w.user, w.mis),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        status_of_verify(&w, &access).await,
        200,
        "other client's tokens only"
    );
    w.app
        .auth_req(Method::DELETE, &format!("/admin/users/{}/tokens", w.user))
        .send()
        .await
        .unwrap();
    assert_eq!(status_of_verify(&w, &access).await, 404);

    let (access, _) = w.access().await;
    let res = w
        .app
        .auth_req(Method::DELETE, "/admin/tokens")
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "request_malformed", None).await;
    let res = w
        .app
        .auth_req(
            Method::DELETE,
            &format!("/admin/tokens?user_ids={},{}", Uuid::now_v7(), w.user),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(status_of_verify(&w, &access).await, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_by_client_by_approval_and_by_block() {
    let w = world().await;
    let (access, _) = w.access().await;
    let res = w
        .app
        .auth_req(
            Method::PATCH,
            &format!("/admin/clients/{}/actions/deactivate_tokens", w.msp),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["data"]["id"], w.msp.to_string());
    assert_eq!(status_of_verify(&w, &access).await, 401);
    let res = w
        .app
        .auth_req(
            Method::PATCH,
            &format!(
                "/admin/clients/{}/actions/deactivate_tokens",
                Uuid::now_v7()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found", None).await;

    // Deleting the approval (as the user) expires that client's tokens.
    let (access, _) = w.access().await;
    let apps = w
        .app
        .mithril_req(Method::GET, "/admin/apps")
        .header("x-consumer-id", w.user.to_string())
        .send()
        .await
        .unwrap();
    let apps = json_of(apps).await;
    let app_id = apps["data"][0]["id"].as_str().unwrap().to_owned();
    // Another user cannot see or delete it.
    let res = w
        .app
        .mithril_req(Method::DELETE, &format!("/admin/apps/{app_id}"))
        .header("x-consumer-id", Uuid::now_v7().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(status_of_verify(&w, &access).await, 200);
    let res = w
        .app
        .mithril_req(Method::DELETE, &format!("/admin/apps/{app_id}"))
        .header("x-consumer-id", w.user.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(status_of_verify(&w, &access).await, 401);

    let (access, _) = w.access().await;
    let res = w
        .app
        .mithril_req(
            Method::PATCH,
            &format!("/admin/users/{}/actions/block", w.user),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(status_of_verify(&w, &access).await, 401);
    let res = w
        .app
        .mithril_req(
            Method::PATCH,
            &format!("/admin/users/{}/actions/block", w.user),
        )
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "request_conflict", Some("user already blocked")).await;
    w.app
        .mithril_req(
            Method::PATCH,
            &format!("/admin/users/{}/actions/unblock", w.user),
        )
        .send()
        .await
        .unwrap();
    let res = w
        .app
        .mithril_req(
            Method::PATCH,
            &format!("/admin/users/{}/actions/unblock", w.user),
        )
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "request_conflict", Some("user already unblocked")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_deletes_only_long_expired_tokens_with_one_runner() {
    let w = world().await;
    w.access().await;
    w.access().await;
    w.app.exec("UPDATE tokens SET expires_at = extract(epoch FROM now() - interval '31 days')::bigint WHERE name = 'authorization_code'").await;
    w.app.exec("UPDATE tokens SET expires_at = extract(epoch FROM now() - interval '29 days')::bigint WHERE name = 'refresh_token'").await;
    let before = w.app.count("SELECT count(*) AS n FROM tokens").await;
    let settings = auth_token::settings::CleanupSettings {
        enabled: true,
        interval_secs: 1,
        retention_days: 30,
        batch_size: 1,
    };
    let pool = platform::db::build_pool(&w.app.settings.database).unwrap();

    // While another session holds the lock, a round does nothing.
    let mut holder = w.app.db.connect().await.unwrap();
    let lock = diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(cleanup::LOCK_KEY);
    diesel_async::RunQueryDsl::execute(lock, &mut holder)
        .await
        .unwrap();
    assert_eq!(cleanup::run_once(&pool, &settings).await.unwrap(), None);
    // Release explicitly: dropping the connection closes it asynchronously, and the server could
    // still hold the lock when the next round asks.
    let unlock = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<diesel::sql_types::BigInt, _>(cleanup::LOCK_KEY);
    diesel_async::RunQueryDsl::execute(unlock, &mut holder)
        .await
        .unwrap();

    assert_eq!(
        cleanup::run_once(&pool, &settings).await.unwrap(),
        Some(2),
        "two codes, in batches of one"
    );
    assert_eq!(
        w.app.count("SELECT count(*) AS n FROM tokens").await,
        before - 2
    );
    assert_eq!(
        w.app
            .count("SELECT count(*) AS n FROM tokens WHERE name = 'authorization_code'")
            .await,
        0
    );
    assert_eq!(
        w.app
            .count("SELECT count(*) AS n FROM tokens WHERE name = 'refresh_token'")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_background_task_runs_rounds() {
    let w = world_with(|s| {
        s.cleanup.enabled = true;
        s.cleanup.interval_secs = 1;
    })
    .await;
    w.access().await;
    w.app.exec("UPDATE tokens SET expires_at = 0").await;
    // Wait on the condition (the table empties), bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while w.app.count("SELECT count(*) AS n FROM tokens").await > 0 {
        assert!(std::time::Instant::now() < deadline, "cleanup did not run");
        tokio::task::yield_now().await;
    }
}

/// `UPDATE_SNAPSHOTS=1 cargo test -p auth-token openapi` refreshes it after an intended change.
#[tokio::test(flavor = "multi_thread")]
async fn openapi_matches_the_committed_snapshot() {
    let app = spawn().await;
    let served: serde_json::Value = app
        .auth_req(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let snapshot = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../proto-contracts/openapi/auth-token.json"
    );
    testkit::assert_openapi_snapshot(&served, snapshot);
}
