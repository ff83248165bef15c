//! Test harness (dev-dependency only).
//!
//! - [`pg`]: one throwaway PostgreSQL per test process, started from the local binaries
//!   (or the server named by `TEST_DATABASE_URL`);
//! - [`TestDb`]: a database cloned from a per-store template that is migrated once per process;
//! - [`redis::RedisServer`]: a throwaway redis-server;
//! - [`http`]: assertions on the response envelope;
//! - [`access`]: the test deployment's credentials and an identity signer.
//! - [`sms::SmsStub`]: a stand-in SMS provider that records what it is sent.

pub mod access;
pub mod http;
pub mod pg;
pub mod redis;
pub mod sms;

pub use pg::{OwnCluster, TestDb};

/// Compares the OpenAPI document a service serves with its committed snapshot
/// (`proto-contracts/openapi/<service>.json`). With `UPDATE_SNAPSHOTS` set, rewrites the snapshot
/// first (then review the diff).
pub fn assert_openapi_snapshot(served: &serde_json::Value, snapshot_path: &str) {
    let generated = match serde_json::to_string_pretty(served) {
        Ok(text) => format!("{text}\n"),
        Err(e) => panic!("serializing the served document: {e}"),
    };
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some()
        && let Err(e) = std::fs::write(snapshot_path, &generated)
    {
        panic!("writing {snapshot_path}: {e}");
    }
    let committed = std::fs::read_to_string(snapshot_path).unwrap_or_default();
    assert!(
        committed == generated,
        "{snapshot_path} differs from the generated document; run with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

/// A `/docs` page that works offline: HTML that names no other host (its script and style are
/// the service's own, `platform::docs_page`).
pub fn assert_offline_docs_page(page: &str) {
    assert!(page.to_lowercase().contains("<html"), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the docs page names another host: {page}"
    );
}

/// Runs a built binary with `--version` and `--help` (every binary of the project answers
/// both): the version line is `<name> <version>`, and the help names each of `commands`.
pub fn assert_cli(binary: &str, name: &str, version: &str, commands: &[&str]) {
    let run = |arg: &str| match std::process::Command::new(binary).arg(arg).output() {
        Ok(out) => {
            assert!(out.status.success(), "{binary} {arg}: {:?}", out.status);
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
        Err(e) => panic!("running {binary}: {e}"),
    };
    assert_eq!(run("--version").trim(), format!("{name} {version}"));
    let help = run("--help");
    for command in commands {
        assert!(help.contains(command), "{command} in {help}");
    }
}

/// Polls `probe` until it returns true, for at most `limit`. Only for conditions that are about
/// time itself (a cache TTL running out), where there is no event to wait for.
pub async fn eventually<F, Fut>(limit: std::time::Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    loop {
        if probe().await {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
