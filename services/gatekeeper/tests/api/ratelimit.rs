//! Rate limits: per client in memory, shared through a real redis-server, and still enforced
//! (locally) when Redis dies mid-test.

use reqwest::Method;
use testkit::redis::RedisServer;

use crate::helpers::*;

async fn assert_429(res: reqwest::Response) {
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.headers()["ratelimit-limit"], "3");
    assert_eq!(res.headers()["ratelimit-remaining"], "0");
    assert_error(res, 429, "too_many_requests", None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn local_limits_per_client_with_headers() {
    let Setup { w, gw, .. } = setup().await;
    let (token, _) = w.access().await;
    for remaining in ["2", "1", "0"] {
        let res = gw
            .authed(&w, &token, Method::GET, "/limited/x")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["ratelimit-limit"], "3");
        assert_eq!(res.headers()["ratelimit-remaining"], remaining);
    }
    assert_429(
        gw.authed(&w, &token, Method::GET, "/limited/x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    // Another token of the same client shares the budget: the key is the client, not the token.
    let (other, _) = w.access().await;
    assert_429(
        gw.authed(&w, &other, Method::GET, "/limited/x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    // Garbage tokens are refused before the limiter: they cannot mint fresh buckets.
    let res = gw
        .authed(&w, "Z2FyYmFnZQ", Method::GET, "/limited/x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Unauthenticated routes are limited per address.
    assert_eq!(
        gw.req(Method::GET, "/open-limited")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        gw.req(Method::GET, "/open-limited")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        gw.req(Method::GET, "/open-limited")
            .send()
            .await
            .unwrap()
            .status(),
        429
    );
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(r#"gatekeeper_rate_limited_total{backend="local",route="limited"} 2"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_shares_limits_and_local_fallback_when_it_dies() {
    let mut redis = RedisServer::start().await.unwrap();
    let Setup {
        w, gw, upstreams, ..
    } = setup_with(|s| s.rate_limit.redis_url = Some(redis.url().into())).await;
    let url = redis.url();
    let second = gateway(&fill(ROUTES, &upstreams), &w.app.auth, move |s| {
        s.rate_limit.redis_url = Some(url.into());
    })
    .await;
    let (token, _) = w.access().await;
    // Three requests spread over two replicas use one budget of 3.
    for g in [&gw, &second, &gw] {
        let res = g
            .authed(&w, &token, Method::GET, "/limited/x")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_429(
        second
            .authed(&w, &token, Method::GET, "/limited/x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        gw.metrics().await.contains("backend=\"redis\"")
            || second.metrics().await.contains("backend=\"redis\"")
    );

    // Redis dies: no 5xx, and each replica enforces the limit on its own.
    redis.kill();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            gw.authed(&w, &token, Method::GET, "/limited/x")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert!(
        gw.metrics()
            .await
            .contains(r#"gatekeeper_rate_limited_total{backend="fallback",route="limited"} 2"#)
    );
}
