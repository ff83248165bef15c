use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use testkit::{TestDb, access};
use uuid::Uuid;

pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    pub db: TestDb,
    /// The registry's actor for reference-data upserts.
    pub actor: Uuid,
}

pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut employee_roles::Settings)) -> TestApp {
    let db = TestDb::new(
        "prm",
        employee_roles::MIGRATIONS,
        employee_roles::MIGRATION_LOCK_KEY,
    )
    .await
    .unwrap_or_else(|e| panic!("test database: {e:#}"));
    let mut s = employee_roles::Settings::defaults().unwrap();
    s.server.port = 0;
    s.server.workers = 2;
    s.database.url = db.url.clone().into();
    s.database.pool_size = 8;
    s.admin = access::admin_settings();
    s.identity = access::identity_settings();
    tweak(&mut s);
    let app = employee_roles::Application::build(s).await.unwrap();
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        url,
        http: reqwest::Client::new(),
        db,
        actor: Uuid::new_v4(),
    }
}

/// A legal entity's user: the identity the gatekeeper would vouch for.
#[derive(Clone, Copy)]
pub struct Caller {
    pub user: Uuid,
    pub le: Uuid,
}

impl TestApp {
    /// A request to `path`; an `/admin` one carries the admin token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let r = self.http.request(method, format!("{}{}", self.url, path));
        if path.starts_with("/admin") {
            access::admin(r)
        } else {
            r
        }
    }

    /// A request with the caller's identity, signed as the gatekeeper signs it.
    pub fn as_caller(&self, c: Caller, method: Method, path: &str) -> RequestBuilder {
        access::signed(
            self.req(method, path)
                .header("x-consumer-id", c.user.to_string())
                .header(
                    "x-consumer-metadata",
                    json!({"client_id": c.le, "scope": "employee_role:read employee_role:write"})
                        .to_string(),
                ),
        )
    }

    pub async fn put(&self, path: &str, body: Value) -> Response {
        self.req(Method::PUT, path)
            .header("x-consumer-id", self.actor.to_string())
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn legal_entity(&self, status: &str) -> Uuid {
        let id = Uuid::new_v4();
        let res = self
            .put(
                &format!("/admin/legal_entities/{id}"),
                json!({"type": "PRIMARY_CARE", "status": status, "is_active": true}),
            )
            .await;
        assert_eq!(res.status(), 201);
        id
    }

    pub async fn employee(&self, le: Uuid, status: &str, speciality: Option<&str>) -> Uuid {
        let id = Uuid::new_v4();
        let res = self
            .put(
                &format!("/admin/employees/{id}"),
                employee_body(le, status, speciality),
            )
            .await;
        assert_eq!(res.status(), 201);
        id
    }

    pub async fn service(&self, le: Uuid, status: &str, speciality_type: Option<&str>) -> Uuid {
        let id = Uuid::new_v4();
        let res = self
            .put(
                &format!("/admin/healthcare_services/{id}"),
                service_body(le, status, speciality_type),
            )
            .await;
        assert_eq!(res.status(), 201);
        id
    }

    /// A party (`verification_status`, registry `updated_at`) that `users` act for.
    pub async fn party(&self, status: &str, updated_at: &str, users: &[Uuid]) -> Uuid {
        let id = Uuid::new_v4();
        let res = self
            .put(
                &format!("/admin/parties/{id}"),
                json!({"verification_status": status, "updated_at": updated_at, "users": users}),
            )
            .await;
        assert_eq!(res.status(), 201);
        id
    }

    pub async fn create(&self, c: Caller, employee: Uuid, service: Uuid) -> Response {
        self.as_caller(c, Method::POST, "/api/employee_roles")
            .json(&json!({"employee_id": employee, "healthcare_service_id": service}))
            .send()
            .await
            .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.db.count(sql).await
    }

    pub async fn exec(&self, sql: &str) {
        self.db.exec(sql).await
    }

    /// Every row of the writable tables, as text (to show that a refused request wrote nothing).
    pub async fn snapshot(&self) -> String {
        self.db
            .text(
                "SELECT concat_ws(E'\\n',
                   (SELECT string_agg(row_to_json(r)::text, E'\\n' ORDER BY r.id) FROM employee_roles r),
                   (SELECT string_agg(row_to_json(a)::text, E'\\n' ORDER BY a.id) FROM audit_log a),
                   (SELECT string_agg(row_to_json(e)::text, E'\\n' ORDER BY e.id) FROM employees e),
                   (SELECT string_agg(row_to_json(h)::text, E'\\n' ORDER BY h.id) FROM healthcare_services h),
                   (SELECT string_agg(row_to_json(l)::text, E'\\n' ORDER BY l.id) FROM legal_entities l),
                   (SELECT string_agg(row_to_json(p)::text, E'\\n' ORDER BY p.id) FROM parties p),
                   (SELECT string_agg(row_to_json(u)::text, E'\\n' ORDER BY u.user_id) FROM party_users u)) AS t",
            )
            .await
    }
}

pub fn employee_body(le: Uuid, status: &str, speciality: Option<&str>) -> Value {
    json!({"legal_entity_id": le, "party_id": Uuid::new_v4(), "employee_type": "DOCTOR",
           "status": status, "is_active": true,
           "speciality": speciality.map(|s| json!({"speciality": s, "speciality_officio": true, "level": "FIRST"}))})
}

pub fn service_body(le: Uuid, status: &str, speciality_type: Option<&str>) -> Value {
    json!({"legal_entity_id": le, "division_id": Uuid::new_v4(), "speciality_type": speciality_type,
           "category": "MSP", "status": status, "is_active": true})
}

/// An ACTIVE legal entity with an APPROVED family doctor and an ACTIVE family-doctor service.
pub struct Clinic {
    pub app: TestApp,
    pub caller: Caller,
    pub employee: Uuid,
    pub service: Uuid,
}

pub async fn clinic() -> Clinic {
    clinic_with(|_| {}).await
}

pub async fn clinic_with(tweak: impl FnOnce(&mut employee_roles::Settings)) -> Clinic {
    let app = spawn_with(tweak).await;
    let le = app.legal_entity("ACTIVE").await;
    let employee = app.employee(le, "APPROVED", Some("FAMILY_DOCTOR")).await;
    let service = app.service(le, "ACTIVE", Some("FAMILY_DOCTOR")).await;
    Clinic {
        caller: Caller {
            user: Uuid::new_v4(),
            le,
        },
        app,
        employee,
        service,
    }
}

impl Clinic {
    /// A new ACTIVE role's id.
    pub async fn role(&self) -> Uuid {
        let res = self
            .app
            .create(self.caller, self.employee, self.service)
            .await;
        assert_eq!(res.status(), 201);
        json_of(res).await["data"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }
}

pub use testkit::http::{assert_error, json_of};

/// Asserts a 422 with one invalid entry at `entry`.
pub async fn assert_invalid(res: Response, entry: &str, description: Option<&str>) {
    let body = assert_error(res, 422, "validation_failed", None).await;
    let inv = &body["error"]["invalid"][0];
    assert_eq!(inv["entry"], entry, "{body}");
    if let Some(d) = description {
        assert_eq!(inv["rules"][0]["description"], d, "{body}");
    }
}
