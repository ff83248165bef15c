use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

pub use crate::world::{World, assert_error, json_of, world};

/// A running gatekeeper: proxy URL, ops URL and its route file.
pub struct Gateway {
    pub url: String,
    pub ops: String,
    pub routes_file: PathBuf,
    pub http: reqwest::Client,
    /// The route table's reload status as it changes (generation, last error).
    pub reload: tokio::sync::watch::Receiver<gatekeeper::reload::ReloadStatus>,
    /// Whether revocation events arrive, when the gateway listens for them.
    pub revocations: Option<tokio::sync::watch::Receiver<bool>>,
}

/// The route table most tests use. `{stub}`, `{abac}`, `{dead}`, `{mithril}` and `{auth}` are
/// filled in.
pub const ROUTES: &str = r#"
routes:
  - name: echo
    paths: [/echo]
    upstream: "{stub}"
    rules:
      - {methods: [GET, POST, PUT], path: '/read(/.*)?', scopes: [connection:read]}
      - {methods: [GET], path: '/admin', scopes: [connection:delete]}
      - {methods: [GET], path: '/both', scopes: [connection:read, connection:write, connection:delete]}
      - {methods: [GET], path: '/writer', scopes: [connection:write]}
  - name: authonly
    paths: [/authonly]
    upstream: "{stub}"
  - name: mis-only
    paths: [/mis]
    upstream: "{stub}"
    auth: api_key
    rules:
      - {methods: [GET], path: '/read', scopes: [connection:read]}
      - {methods: [GET], path: '/roles', scopes: [employee_role:write]}
  - name: open
    paths: [/open]
    upstream: "{stub}/base"
    auth: none
    strip_prefix: true
    max_body_bytes: 1024
  - name: slow
    paths: [/slow]
    upstream: "{stub}"
    auth: none
    timeouts: {response_ms: 300}
  - name: dead
    paths: [/dead]
    upstream: "http://127.0.0.1:{dead}"
    auth: none
  - name: limited
    paths: [/limited]
    upstream: "{stub}"
    rate_limit: {second: 3, minute: 3}
  - name: open-limited
    paths: [/open-limited]
    upstream: "{stub}"
    auth: none
    rate_limit: {minute: 2}
  - name: cors
    paths: [/cors]
    upstream: "{stub}"
    cors: {origins: ["https://app.example.com"]}
  - name: patients
    paths: [/api/patients]
    methods: [GET]
    upstream: "{stub}"
    rules:
      - methods: [GET]
        path: '/(?P<patient_id>[0-9a-f-]{36})/episodes/(?P<episode_id>[a-z]+)'
        scopes: [connection:read]
        abac:
          endpoint: "{abac}"
          action: read
          resource: episode
          resource_id: episode_id
          contexts:
            - {type: patient, from: patient_id}
            - {type: managing_organization_id, from: managing_organization_id, query: true}
"#;

pub struct Upstreams {
    pub stub: String,
    pub abac: String,
    pub auth: String,
    pub mithril: String,
}

pub fn fill(template: &str, u: &Upstreams) -> String {
    template
        .replace("{stub}", &u.stub)
        .replace("{abac}", &u.abac)
        .replace("{dead}", &crate::stubs::closed_port().to_string())
        .replace("{mithril}", &u.mithril)
        .replace("{auth}", &u.auth)
}

pub async fn gateway(
    routes_yaml: &str,
    verify_url: &str,
    tweak: impl FnOnce(&mut gatekeeper::Settings),
) -> Gateway {
    let dir = std::env::temp_dir().join(format!("gatekeeper-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let routes_file = dir.join("routes.yaml");
    std::fs::write(&routes_file, routes_yaml).unwrap();
    let mut s = gatekeeper::Settings::defaults().unwrap();
    s.server.port = 0;
    s.server.workers = 1;
    s.ops.port = 0;
    s.routes.file = routes_file.to_string_lossy().into_owned();
    s.routes.watch_interval_ms = 50;
    s.verify.url = verify_url.to_owned();
    s.verify.service_token = Some(testkit::access::SERVICE_TOKEN.to_owned().into());
    s.admin = testkit::access::admin_settings();
    s.identity = testkit::access::identity_settings();
    tweak(&mut s);
    let app = gatekeeper::Application::build(s).await.unwrap();
    let url = format!("http://127.0.0.1:{}", app.port());
    let ops = format!("http://127.0.0.1:{}", app.ops_port());
    let reload = app.reload_status();
    let revocations = app.revocations_subscribed();
    tokio::spawn(app.run_until_stopped());
    Gateway {
        url,
        ops,
        routes_file,
        http: reqwest::Client::new(),
        reload,
        revocations,
    }
}

/// A world (auth-token, mithril-api, a clinic and a MIS), the stubs, and a gateway in front.
pub struct Setup {
    pub w: World,
    pub gw: Gateway,
    pub abac: crate::stubs::Abac,
    pub upstreams: Upstreams,
}

pub async fn setup() -> Setup {
    setup_with(|_| {}).await
}

pub async fn setup_with(tweak: impl FnOnce(&mut gatekeeper::Settings)) -> Setup {
    let w = world().await;
    let stub = crate::stubs::upstream().await;
    let abac = crate::stubs::abac().await;
    let upstreams = Upstreams {
        stub,
        abac: abac.url.clone(),
        auth: w.app.auth.clone(),
        mithril: w.app.mithril.clone(),
    };
    let gw = gateway(&fill(ROUTES, &upstreams), &w.app.auth, tweak).await;
    Setup {
        w,
        gw,
        abac,
        upstreams,
    }
}

impl Gateway {
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{}", self.url, path))
    }

    /// A request with the clinic's token and the MIS's api-key (the token's client is BROKER).
    pub fn authed(&self, w: &World, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.req(method, path)
            .bearer_auth(token)
            .header("api-key", &w.api_key)
    }

    /// A POST to the ops port, with the admin token.
    pub async fn ops_post(&self, path: &str, body: Value) -> Response {
        self.http
            .post(format!("{}{}", self.ops, path))
            .bearer_auth(testkit::access::ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A GET on the ops port, with the admin token.
    pub async fn ops_get(&self, path: &str) -> Value {
        json_of(
            self.http
                .get(format!("{}{}", self.ops, path))
                .bearer_auth(testkit::access::ADMIN_TOKEN)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.ops))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits until the revocation listener is (or is no longer) subscribed.
    pub async fn subscribed(&self, up: bool) {
        let mut rx = self
            .revocations
            .clone()
            .expect("the gateway listens for revocations");
        match tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|s| *s == up)).await {
            Ok(Ok(_)) => {}
            other => panic!("revocation listener not {up} within 30 s: {other:?}"),
        }
    }

    pub async fn purge(&self, token: &str) {
        let res = self
            .ops_post("/cache/purge", serde_json::json!({"token": token}))
            .await;
        assert_eq!(res.status(), 200);
    }
}

/// Waits until the route table's reload status satisfies `done` (the watcher noticed the file).
pub async fn reloaded(gw: &Gateway, done: impl FnMut(&gatekeeper::reload::ReloadStatus) -> bool) {
    let mut rx = gw.reload.clone();
    match tokio::time::timeout(Duration::from_secs(5), rx.wait_for(done)).await {
        Ok(Ok(_)) => {}
        other => panic!("no such reload within 5 s: {other:?}"),
    }
}

pub use testkit::eventually;

/// The value of one series (`name{labels}`) in a Prometheus text page; 0 when absent.
pub fn counted(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The echo stub's view of the request.
pub async fn echoed(res: Response) -> Value {
    assert_eq!(res.status(), 200, "upstream answer expected");
    json_of(res).await
}
