//! ehealthctl against the real services (mithril-api, auth-token, employee-roles on
//! 127.0.0.1:0, real PostgreSQL), run as the built binary: a newcomer bootstraps an MSP and a
//! MIS, then blocks, revokes and feeds the registry; refusals come back as the API's messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use testkit::TestDb;
use testkit::access::{self, ADMIN_TOKEN};
use tokio::io::AsyncWriteExt;

struct Stack {
    env: Vec<(&'static str, String)>,
    _dbs: Vec<TestDb>,
}

async fn stack() -> Stack {
    let mithril_db = TestDb::new(
        "mithril",
        mithril_store::MIGRATIONS,
        mithril_store::MIGRATION_LOCK_KEY,
    )
    .await
    .unwrap();
    let prm_db = TestDb::new(
        "prm",
        employee_roles::MIGRATIONS,
        employee_roles::MIGRATION_LOCK_KEY,
    )
    .await
    .unwrap();
    let mut m = mithril_api::Settings::defaults().unwrap();
    (m.server.port, m.server.workers) = (0, 1);
    m.database.url = mithril_db.url.clone().into();
    m.admin = access::admin_settings();
    m.identity = access::identity_settings();
    let mithril = mithril_api::Application::build(m).await.unwrap();
    let mut a = auth_token::Settings::defaults().unwrap();
    (a.server.port, a.server.workers) = (0, 1);
    a.database.url = mithril_db.url.clone().into();
    a.cleanup.enabled = false;
    a.admin = access::admin_settings();
    a.identity = access::identity_settings();
    let auth = auth_token::Application::build(a).await.unwrap();
    let mut r = employee_roles::Settings::defaults().unwrap();
    (r.server.port, r.server.workers) = (0, 1);
    r.database.url = prm_db.url.clone().into();
    r.admin = access::admin_settings();
    r.identity = access::identity_settings();
    let roles = employee_roles::Application::build(r).await.unwrap();
    let env = vec![
        (
            "EHEALTH_MITHRIL_URL",
            format!("http://127.0.0.1:{}", mithril.port()),
        ),
        (
            "EHEALTH_AUTH_URL",
            format!("http://127.0.0.1:{}", auth.port()),
        ),
        (
            "EHEALTH_ROLES_URL",
            format!("http://127.0.0.1:{}", roles.port()),
        ),
    ];
    tokio::spawn(mithril.run_until_stopped());
    tokio::spawn(auth.run_until_stopped());
    tokio::spawn(roles.run_until_stopped());
    Stack {
        env,
        _dbs: vec![mithril_db, prm_db],
    }
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
    fn id(&self) -> String {
        self.json()["id"].as_str().unwrap().to_owned()
    }
}

impl Stack {
    /// Runs ehealthctl with the admin token in the environment.
    async fn ctl(&self, args: &[&str]) -> Run {
        self.run(args, Some(ADMIN_TOKEN), None).await
    }

    async fn run(&self, args: &[&str], token: Option<&str>, stdin: Option<&str>) -> Run {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_ehealthctl"));
        cmd.args(args)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env_remove("EHEALTH_ADMIN_TOKEN")
            .env_remove("EHEALTH_ADMIN_TOKEN_FILE")
            .env_remove("EHEALTH_ACTOR")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(t) = token {
            cmd.env("EHEALTH_ADMIN_TOKEN", t);
        }
        let mut child = cmd.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        input
            .write_all(stdin.unwrap_or("").as_bytes())
            .await
            .unwrap();
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn help_and_version() {
    let s = Stack {
        env: vec![],
        _dbs: vec![],
    };
    let help = s.run(&["--help"], None, None).await;
    assert!(help.ok);
    for noun in [
        "client-types",
        "clients",
        "connections",
        "users",
        "roles",
        "user-roles",
        "approvals",
        "legal-entities",
        "employees",
        "healthcare-services",
        "parties",
        "tokens",
    ] {
        assert!(help.stdout.contains(noun), "{noun} in {}", help.stdout);
    }
    let version = s.run(&["--version"], None, None).await;
    assert_eq!(
        version.stdout.trim(),
        format!("ehealthctl {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newcomer_bootstraps_an_msp_and_a_mis() {
    let s = stack().await;

    // Without the admin token the API's refusal is the error, and the exit status says so.
    let refused = s.run(&["client-types", "list"], None, None).await;
    assert!(!refused.ok);
    assert!(
        refused
            .stderr
            .contains("401 access_denied: Admin credential required."),
        "{}",
        refused.stderr
    );

    // The owner, from a password on stdin.
    let owner = s
        .run(
            &[
                "users",
                "create",
                "--email",
                "owner@clinic.example.com",
                "-o",
                "json",
            ],
            Some(ADMIN_TOKEN),
            Some("Correct1horse!\n"),
        )
        .await;
    assert!(owner.ok, "{}", owner.stderr);
    let owner = owner.id();
    let weak = s
        .ctl(&[
            "users",
            "create",
            "--email",
            "weak@clinic.example.com",
            "--password",
            "short",
        ])
        .await;
    assert!(!weak.ok);
    assert!(
        weak.stderr.contains("422 validation_failed"),
        "{}",
        weak.stderr
    );

    // The clinic (a broker client) and the MIS that brokers for it; client types by name.
    let msp = s
        .ctl(&[
            "clients",
            "create",
            "--name",
            "Clinic",
            "--type",
            "MSP",
            "--owner",
            &owner,
            "--access-type",
            "BROKER",
            "--grant-types",
            "authorization_code,refresh_token",
            "-o",
            "json",
        ])
        .await;
    assert!(msp.ok, "{}", msp.stderr);
    let msp_id = msp.id();
    assert_eq!(msp.json()["priv_settings"]["access_type"], "BROKER");
    let mis = s
        .ctl(&[
            "clients",
            "create",
            "--name",
            "MIS",
            "--type",
            "MIS",
            "--owner",
            &owner,
            "--broker-scope",
            "connection:read employee_role:read",
            "-o",
            "json",
        ])
        .await;
    let mis_id = mis.id();
    let unknown = s
        .ctl(&[
            "clients", "create", "--name", "X", "--type", "NOPE", "--owner", &owner,
        ])
        .await;
    assert!(!unknown.ok);
    assert!(
        unknown.stderr.contains("no client_types named \"NOPE\""),
        "{}",
        unknown.stderr
    );

    // The connection: its secret is printed once, and the note says so.
    let conn = s
        .ctl(&[
            "connections",
            "create",
            &msp_id,
            "--consumer",
            &mis_id,
            "--redirect-uri",
            "https://mis.example.com/cb",
        ])
        .await;
    assert!(conn.ok, "{}", conn.stderr);
    assert!(conn.stderr.contains("shown only now"));
    let secret_line = conn
        .stdout
        .lines()
        .find(|l| l.starts_with("secret"))
        .unwrap();
    assert_eq!(secret_line.split_whitespace().nth(1).unwrap().len(), 43);
    let listed = s
        .ctl(&["connections", "list", &msp_id, "-o", "json"])
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("secret").is_none());
    assert_eq!(listed[0]["is_public"], false);
    let table = s.ctl(&["connections", "list", &msp_id]).await.stdout;
    assert!(
        table.starts_with("ID")
            && table.contains(&mis_id)
            && table.contains("https://mis.example.com/cb"),
        "{table}"
    );

    // A public connection (an app of the clinic's own): no secret, and the note says why.
    let public = s
        .ctl(&[
            "connections",
            "create",
            &msp_id,
            "--consumer",
            &msp_id,
            "--redirect-uri",
            "https://app.example.com/cb",
            "--public",
            "-o",
            "json",
        ])
        .await;
    assert!(public.ok, "{}", public.stderr);
    assert!(public.stderr.contains("no secret"), "{}", public.stderr);
    let public = public.json();
    assert_eq!(public["is_public"], true);
    assert_eq!(public["secret"], Value::Null);
    // A resource server may introspect any token.
    let updated = s
        .ctl(&[
            "clients",
            "update",
            &mis_id,
            "--introspection",
            "true",
            "-o",
            "json",
        ])
        .await;
    assert!(updated.ok, "{}", updated.stderr);
    assert_eq!(updated.json()["priv_settings"]["introspection"], true);

    // The owner's role within the clinic, and an approval.
    let granted = s
        .ctl(&[
            "user-roles",
            "grant",
            &owner,
            "--role",
            "OWNER",
            "--client",
            &msp_id,
        ])
        .await;
    assert!(granted.ok, "{}", granted.stderr);
    let roles = s
        .ctl(&["user-roles", "list", &owner, "-o", "json"])
        .await
        .json();
    assert_eq!(roles[0]["client_id"], msp_id.as_str());
    let roles = s.ctl(&["user-roles", "list", &owner]).await.stdout;
    let row = roles.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains("OWNER") && row.contains("Clinic") && row.contains(&msp_id),
        "{roles}"
    );
    let clients = s.ctl(&["clients", "list", "--name", "Clinic"]).await.stdout;
    assert!(
        clients.starts_with("ID") && clients.contains(&msp_id) && clients.contains("false"),
        "{clients}"
    );
    let approval = s
        .ctl(&[
            "approvals",
            "create",
            "--user",
            &owner,
            "--client",
            &msp_id,
            "--scope",
            "connection:read",
            "--actor",
            &owner,
        ])
        .await;
    assert!(approval.ok, "{}", approval.stderr);
    let approvals = s
        .ctl(&["approvals", "list", "--user", &owner, "-o", "json"])
        .await
        .json();
    assert_eq!(approvals[0]["client_id"], msp_id.as_str());

    // Block and unblock a user and a client.
    assert!(
        s.ctl(&["users", "block", &owner, "--reason", "audit"])
            .await
            .ok
    );
    assert_eq!(
        s.ctl(&["users", "show", &owner, "-o", "json"]).await.json()["is_blocked"],
        true
    );
    assert!(s.ctl(&["users", "unblock", &owner]).await.ok);
    assert_eq!(
        s.ctl(&["users", "show", &owner, "-o", "json"]).await.json()["is_blocked"],
        false
    );
    assert!(
        s.ctl(&["clients", "block", &msp_id, "--reason", "audit"])
            .await
            .ok
    );
    assert_eq!(
        s.ctl(&["clients", "show", &msp_id, "-o", "json"])
            .await
            .json()["is_blocked"],
        true
    );
    assert!(s.ctl(&["clients", "unblock", &msp_id]).await.ok);

    // Revocation by user and by client.
    assert!(s.ctl(&["tokens", "revoke-user", &owner]).await.ok);
    assert!(s.ctl(&["tokens", "revoke-client", &msp_id]).await.ok);
    assert!(
        s.ctl(&["tokens", "list", "--user", &owner, "-o", "json"])
            .await
            .ok
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_registry_is_fed_from_documents_and_the_token_from_a_file() {
    let s = stack().await;
    let dir = std::env::temp_dir().join(format!("ehealthctl-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("admin-token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let file = token_file.to_string_lossy().into_owned();
    let (le, employee, service, actor) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let put = |collection: &'static str, id: String, doc: String| {
        let (file, actor) = (file.clone(), actor.clone());
        let s = &s;
        async move {
            s.run(
                &[
                    collection,
                    "put",
                    &id,
                    "--admin-token-file",
                    &file,
                    "--actor",
                    &actor,
                    "--file",
                    "-",
                ],
                None,
                Some(&doc),
            )
            .await
        }
    };
    let r = put(
        "legal-entities",
        le.clone(),
        r#"{"type":"PRIMARY_CARE","status":"ACTIVE","is_active":true}"#.into(),
    )
    .await;
    assert!(r.ok, "{}", r.stderr);
    let r = put("employees", employee.clone(), format!(
        r#"{{"legal_entity_id":"{le}","party_id":"{}","employee_type":"DOCTOR","status":"APPROVED","is_active":true,
            "speciality":{{"speciality":"FAMILY_DOCTOR","speciality_officio":true}}}}"#, uuid::Uuid::new_v4())).await;
    assert!(r.ok, "{}", r.stderr);
    let r = put("healthcare-services", service, format!(
        r#"{{"legal_entity_id":"{le}","division_id":"{}","speciality_type":"FAMILY_DOCTOR","category":"MSP","status":"ACTIVE","is_active":true}}"#,
        uuid::Uuid::new_v4())).await;
    assert!(r.ok, "{}", r.stderr);
    let bad = put(
        "legal-entities",
        le.clone(),
        r#"{"type":"PRIMARY_CARE","status":"NOPE","is_active":true}"#.into(),
    )
    .await;
    assert!(!bad.ok);
    assert!(
        bad.stderr.contains("422 validation_failed"),
        "{}",
        bad.stderr
    );

    let roles = s.ctl(&["employees", "roles", &employee]).await;
    assert!(roles.ok, "{}", roles.stderr);
    assert_eq!(roles.stdout.trim(), "(none)");
    let done = s
        .ctl(&[
            "legal-entities",
            "deactivate-roles",
            &le,
            "--actor",
            &actor,
            "-o",
            "json",
        ])
        .await;
    assert!(done.ok, "{}", done.stderr);
    assert_eq!(done.json()["deactivated"], 0);
    let wrong = s.ctl(&["healthcare-services", "roles", &le]).await;
    assert!(!wrong.ok);
}
