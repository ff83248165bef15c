use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use testkit::sms::SmsStub;
use testkit::{TestDb, access};
use uuid::Uuid;

pub const PASSWORD: &str = "Correct1horse!";
pub const REDIRECT: &str = "https://mis.example.com/callback";
pub const SCOPE: &str = "connection:read connection:write";

pub struct TestApp {
    pub auth: String,
    pub mithril: String,
    pub http: reqwest::Client,
    pub db: TestDb,
    pub settings: auth_token::Settings,
    /// The SMS provider auth-token sends codes to.
    pub sms: SmsStub,
}

pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut auth_token::Settings)) -> TestApp {
    let db = TestDb::new(
        "mithril",
        mithril_store::MIGRATIONS,
        mithril_store::MIGRATION_LOCK_KEY,
    )
    .await
    .unwrap_or_else(|e| panic!("test database: {e:#}"));
    spawn_on(db, tweak).await
}

/// The services on a database the test made (a server of its own, say).
pub async fn spawn_on(db: TestDb, tweak: impl FnOnce(&mut auth_token::Settings)) -> TestApp {
    let mut m = mithril_api::Settings::defaults().unwrap();
    m.server.port = 0;
    m.server.workers = 1;
    m.database.url = db.url.clone().into();
    m.database.pool_size = 4;
    m.admin = access::admin_settings();
    m.identity = access::identity_settings();
    let mithril = mithril_api::Application::build(m).await.unwrap();
    let mithril_url = format!("http://127.0.0.1:{}", mithril.port());
    tokio::spawn(mithril.run_until_stopped());

    let mut a = auth_token::Settings::defaults().unwrap();
    a.server.port = 0;
    a.server.workers = 2;
    a.database.url = db.url.clone().into();
    a.database.pool_size = 8;
    a.cleanup.enabled = false;
    a.admin = access::admin_settings();
    a.identity = access::identity_settings();
    a.service.tokens = vec![access::SERVICE_TOKEN.to_owned().into()];
    let sms = SmsStub::start().await;
    a.sms.url = sms.url.clone();
    tweak(&mut a);
    let settings = a.clone();
    let auth = auth_token::Application::build(a).await.unwrap();
    let auth_url = format!("http://127.0.0.1:{}", auth.port());
    tokio::spawn(auth.run_until_stopped());
    TestApp {
        auth: auth_url,
        mithril: mithril_url,
        http: reqwest::Client::new(),
        db,
        settings,
        sms,
    }
}

fn with_admin_token(path: &str, r: RequestBuilder) -> RequestBuilder {
    if path.starts_with("/admin") {
        access::admin(r)
    } else {
        r
    }
}

impl TestApp {
    /// A request to auth-token; an `/admin` one carries the admin token.
    pub fn auth_req(&self, method: Method, path: &str) -> RequestBuilder {
        with_admin_token(
            path,
            self.http.request(method, format!("{}{}", self.auth, path)),
        )
    }

    /// A request to mithril-api; an `/admin` one carries the admin token.
    pub fn mithril_req(&self, method: Method, path: &str) -> RequestBuilder {
        with_admin_token(
            path,
            self.http
                .request(method, format!("{}{}", self.mithril, path)),
        )
    }

    pub async fn mithril(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.mithril_req(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap_or(Value::Null)
    }

    pub async fn exec(&self, sql: &str) {
        self.db.exec(sql).await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.db.count(sql).await
    }

    /// Every row of the credential-bearing tables, as text.
    pub async fn dump(&self) -> String {
        self.db
            .text(
                "SELECT coalesce((SELECT string_agg(row_to_json(t)::text, E'\\n') FROM tokens t), '') || E'\\n' ||
                        coalesce((SELECT string_agg(row_to_json(c)::text, E'\\n') FROM connections c), '') AS t",
            )
            .await
    }

    pub async fn type_id(&self, name: &str) -> Uuid {
        let body = self
            .mithril(
                Method::GET,
                &format!("/admin/client_types?name={}", name.replace(' ', "%20")),
                None,
            )
            .await;
        body["data"][0]["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn role_id(&self, name: &str) -> Uuid {
        let body = self
            .mithril(Method::GET, &format!("/admin/roles?name={name}"), None)
            .await;
        body["data"][0]["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn client(
        &self,
        owner: Uuid,
        type_name: &str,
        priv_settings: Value,
        grants: &[&str],
    ) -> Uuid {
        let body = json!({"client": {"name": format!("{type_name} client"), "user_id": owner,
            "client_type_id": self.type_id(type_name).await, "priv_settings": priv_settings,
            "settings": {"allowed_grant_types": grants}}});
        let res = self
            .mithril(Method::POST, "/admin/clients", Some(body))
            .await;
        res["data"]["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn user(&self, email: &str) -> Uuid {
        let res = self
            .mithril(
                Method::POST,
                "/admin/users",
                Some(json!({"user": {"email": email, "password": PASSWORD}})),
            )
            .await;
        res["data"]["id"].as_str().unwrap().parse().unwrap()
    }

    /// (connection id, secret)
    pub async fn connection(&self, client: Uuid, consumer: Uuid, redirect: &str) -> (Uuid, String) {
        let res = self
            .mithril(
                Method::PUT,
                &format!("/admin/clients/{client}/connections"),
                Some(json!({"consumer_id": consumer, "redirect_uri": redirect})),
            )
            .await;
        (
            res["data"]["id"].as_str().unwrap().parse().unwrap(),
            res["data"]["secret"].as_str().unwrap().to_owned(),
        )
    }
}

/// A clinic (MSP, BROKER) integrated by a MIS, a front-end client for logins, and a doctor.
pub struct World {
    pub app: TestApp,
    pub user: Uuid,
    pub email: String,
    pub msp: Uuid,
    pub mis: Uuid,
    pub front: Uuid,
    /// MSP ← MIS connection secret: the client_secret of the code exchange.
    pub secret: String,
    /// The MIS's self-connection secret: the api-key of BROKER verify.
    pub api_key: String,
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

pub async fn world_with(tweak: impl FnOnce(&mut auth_token::Settings)) -> World {
    world_of(spawn_with(tweak).await).await
}

/// A world on services the test started ([`spawn_on`]).
pub async fn world_of(app: TestApp) -> World {
    let email = format!("doctor-{}@example.com", Uuid::now_v7());
    let user = app.user(&email).await;
    let owner = app
        .user(&format!("owner-{}@example.com", Uuid::now_v7()))
        .await;
    let mis = app
        .client(
            owner,
            "MIS",
            json!({"access_type": "DIRECT", "broker_scope": "connection:read connection:write"}),
            &["password"],
        )
        .await;
    let msp = app
        .client(
            owner,
            "MSP",
            json!({"access_type": "BROKER"}),
            &["password"],
        )
        .await;
    let front = app
        .client(
            owner,
            "Auth_FE",
            json!({"access_type": "DIRECT"}),
            &["password"],
        )
        .await;
    let (_, secret) = app.connection(msp, mis, REDIRECT).await;
    let (_, api_key) = app.connection(mis, mis, "https://mis.example.com").await;
    let owner_role = app.role_id("OWNER").await;
    app.mithril(
        Method::POST,
        &format!("/admin/users/{user}/roles"),
        Some(json!({"user_role": {"role_id": owner_role, "client_id": msp}})),
    )
    .await;
    World {
        app,
        user,
        email,
        msp,
        mis,
        front,
        secret,
        api_key,
    }
}

impl World {
    pub async fn login(&self) -> Response {
        self.app
            .auth_req(Method::POST, "/auth/login")
            .json(&json!({"token": {"grant_type": "password", "email": self.email, "password": PASSWORD,
                                     "client_id": self.front, "scope": "app:authorize"}}))
            .send()
            .await
            .unwrap()
    }

    pub async fn authorize(&self, body: Value) -> Response {
        self.app
            .auth_req(Method::POST, "/oauth/apps/authorize")
            .header("x-consumer-id", self.user.to_string())
            .json(&json!({"app": body}))
            .signed()
            .send()
            .await
            .unwrap()
    }

    /// A fresh code for the MSP with [`SCOPE`].
    pub async fn code(&self) -> String {
        let res = self
            .authorize(json!({"client_id": self.msp, "redirect_uri": REDIRECT, "scope": SCOPE}))
            .await;
        assert_eq!(res.status(), 201);
        json_of(res).await["data"]["value"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn exchange_body(&self, code: &str) -> Value {
        json!({"token": {"grant_type": "authorization_code", "client_id": self.msp, "client_secret": self.secret,
                         "code": code, "redirect_uri": REDIRECT, "scope": "ignored:scope"}})
    }

    pub async fn tokens(&self, body: &Value) -> Response {
        self.app
            .auth_req(Method::POST, "/oauth/tokens")
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// (access token, refresh token) through the whole flow.
    pub async fn access(&self) -> (String, String) {
        let code = self.code().await;
        let res = self.tokens(&self.exchange_body(&code)).await;
        assert_eq!(res.status(), 201);
        let body = json_of(res).await;
        (
            body["data"]["value"].as_str().unwrap().to_owned(),
            body["data"]["details"]["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    pub async fn verify(&self, token: &str, api_key: Option<&str>) -> Response {
        let mut r = self
            .app
            .auth_req(Method::GET, &format!("/admin/tokens/{token}/verify"));
        if let Some(k) = api_key {
            r = r.header("api-key", k);
        }
        r.send().await.unwrap()
    }
}

pub use testkit::http::{assert_error, json_of};

/// Signs the identity headers set so far, as the gatekeeper does (call it last).
pub trait Signed {
    fn signed(self) -> Self;
}

impl Signed for RequestBuilder {
    fn signed(self) -> Self {
        access::signed(self)
    }
}
