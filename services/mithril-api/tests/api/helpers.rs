use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use mithril_api::{Application, Settings};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use testkit::{TestDb, access};
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub db: TestDb,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let (app, test_app) = build_with(tweak).await;
    tokio::spawn(app.run_until_stopped());
    test_app
}

/// A service run until `stop` fires (then it drains and stops as on SIGTERM): the run's task.
pub async fn spawn_stoppable(
    tweak: impl FnOnce(&mut Settings),
    stop: tokio::sync::oneshot::Receiver<()>,
) -> (TestApp, tokio::task::JoinHandle<std::io::Result<()>>) {
    let (app, test_app) = build_with(tweak).await;
    let running = tokio::spawn(app.run_until(async {
        let _ = stop.await;
    }));
    (test_app, running)
}

pub async fn build_with(tweak: impl FnOnce(&mut Settings)) -> (Application, TestApp) {
    let db = TestDb::new(
        "mithril",
        mithril_store::MIGRATIONS,
        mithril_store::MIGRATION_LOCK_KEY,
    )
    .await
    .unwrap_or_else(|e| panic!("test database: {e:#}"));
    let mut settings = Settings::defaults().expect("default settings");
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.database.url = db.url.clone().into();
    settings.database.pool_size = 4;
    settings.admin = access::admin_settings();
    settings.identity = access::identity_settings();
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let test_app = TestApp {
        address,
        http: reqwest::Client::new(),
        db,
    };
    (app, test_app)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
pub struct TextRow {
    #[diesel(sql_type = Text)]
    pub t: String,
}

impl TestApp {
    /// A request to `path`; an `/admin` one carries the admin token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let r = self
            .http
            .request(method, format!("{}{}", self.address, path));
        if path.starts_with("/admin") {
            access::admin(r)
        } else {
            r
        }
    }

    /// A JSON request (Content-Type set by reqwest).
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut r = self.req(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.expect("request sent")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let mut conn = self.db.connect().await.expect("db connection");
        diesel::sql_query(sql)
            .get_result::<Count>(&mut conn)
            .await
            .expect("count query")
            .n
    }

    pub async fn texts(&self, sql: &str) -> Vec<String> {
        let mut conn = self.db.connect().await.expect("db connection");
        diesel::sql_query(sql)
            .load::<TextRow>(&mut conn)
            .await
            .expect("text query")
            .into_iter()
            .map(|r| r.t)
            .collect()
    }

    /// Everything in the tables that could hold a credential, as text.
    pub async fn dump(&self) -> String {
        self.texts(
            "SELECT coalesce(string_agg(row_to_json(c)::text, '\n'), '') AS t FROM connections c",
        )
        .await
        .join("\n")
    }

    pub async fn user(&self) -> Uuid {
        let id = Uuid::now_v7();
        let mut conn = self.db.connect().await.expect("db connection");
        mithril_store::users::insert(
            &mut conn,
            id,
            &format!("{id}@example.com"),
            "$argon2id$not-a-login",
        )
        .await
        .expect("user inserted");
        id
    }

    pub async fn client_type_id(&self, name: &str) -> Uuid {
        let body: Value = self
            .send(
                Method::GET,
                &format!("/admin/client_types?name={}", urlencode(name)),
                None,
            )
            .await
            .json()
            .await
            .expect("json");
        body["data"][0]["id"]
            .as_str()
            .expect("seeded client type")
            .parse()
            .expect("uuid")
    }

    /// Creates a client of the named type through the admin API.
    pub async fn client(&self, type_name: &str) -> Uuid {
        let user_id = self.user().await;
        let client_type_id = self.client_type_id(type_name).await;
        let access_type = if matches!(type_name, "MSP" | "PHARMACY" | "MSP_PHARMACY") {
            "BROKER"
        } else {
            "DIRECT"
        };
        let res = self
            .send(
                Method::POST,
                "/admin/clients",
                Some(
                    json!({"client": {"name": format!("{type_name} client"), "user_id": user_id,
                    "client_type_id": client_type_id, "priv_settings": {"access_type": access_type},
                    "settings": {"allowed_grant_types": ["password"]}}}),
                ),
            )
            .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.expect("json");
        body["data"]["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid")
    }

    /// Creates the (client, consumer) connection; returns its id and secret.
    pub async fn connection(
        &self,
        client_id: Uuid,
        consumer_id: Uuid,
        redirect_uri: &str,
    ) -> (Uuid, String) {
        let res = self
            .send(
                Method::PUT,
                &format!("/admin/clients/{client_id}/connections"),
                Some(json!({"consumer_id": consumer_id, "redirect_uri": redirect_uri})),
            )
            .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.expect("json");
        (
            body["data"]["id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
            body["data"]["secret"].as_str().expect("secret").to_owned(),
        )
    }
}

/// Adds the headers the gatekeeper sets for a verified token of `client_id`, signed as it signs
/// them (call it after the URL is complete).
pub trait WithCaller {
    fn with_caller(self, client_id: Uuid) -> Self;
}

impl WithCaller for RequestBuilder {
    fn with_caller(self, client_id: Uuid) -> Self {
        access::signed(self.header("x-consumer-id", Uuid::now_v7().to_string()).header(
            "x-consumer-metadata",
            json!({"client_id": client_id, "scope": "connection:read connection:write", "grant_type": "authorization_code"})
                .to_string(),
        ))
    }
}

pub fn urlencode(s: &str) -> String {
    s.replace(' ', "%20")
}

pub async fn json_of(res: Response) -> Value {
    res.json().await.expect("a JSON body")
}

/// Asserts an error envelope: status, `error.type`, and `meta.code` agreeing with the status.
pub async fn assert_error(res: Response, status: u16, kind: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let body = json_of(res).await;
    assert_eq!(body["error"]["type"], kind, "error type in {body}");
    assert_eq!(body["meta"]["code"], status, "meta.code in {body}");
    assert!(body.get("data").is_none());
    body
}

/// The `rules[].rule` names at `entry` in a 422 body.
pub fn rules_at(body: &Value, entry: &str) -> Vec<String> {
    body["error"]["invalid"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["entry"] == entry)
        .flat_map(|e| e["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| r["rule"].as_str().unwrap_or_default().to_owned())
        .collect()
}
