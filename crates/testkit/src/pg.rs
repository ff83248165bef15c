use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::EmbeddedMigrations;

/// The server tests create their databases on: `postgres://user@host:port`.
pub struct Cluster {
    pub base_url: String,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// The process's cluster, started on first use.
pub fn cluster() -> anyhow::Result<&'static Cluster> {
    CLUSTER
        .get_or_init(|| start().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("test PostgreSQL is unavailable: {e}"))
}

fn start() -> anyhow::Result<Cluster> {
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        // Only the server matters: drop a database name if the URL carries one.
        let base = match url.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('/') {
                Some((host, _)) => format!("{scheme}://{host}"),
                None => url.clone(),
            },
            None => url.clone(),
        };
        return Ok(Cluster { base_url: base });
    }
    let server = Server::init(&format!("pg-{}", std::process::id()))?;
    server.launch()?;
    Ok(Cluster {
        base_url: server.base_url(),
    })
}

/// A data directory, its port and how to run its postmaster.
struct Server {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    run_as: Option<(u32, u32)>,
}

impl Server {
    /// `initdb` in a fresh directory `name` under the harness's root.
    fn init(name: &str) -> anyhow::Result<Self> {
        let bin = find_bin_dir()?;
        let root = std::env::temp_dir().join("ehealth-testkit");
        std::fs::create_dir_all(&root)?;
        sweep_stale(&root);
        let dir = root.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let run_as = if unsafe_is_root() {
            Some(postgres_ids()?)
        } else {
            None
        };
        if let Some((uid, gid)) = run_as {
            chown_recursive(&dir, uid, gid)?;
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-N",
                "-E",
                "UTF8",
                "--locale=C",
                "-D",
            ])
            .arg(dir.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = run_as {
            initdb.uid(uid).gid(gid);
        }
        let out = initdb.output().context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(Self {
            bin,
            dir,
            port: free_port()?,
            run_as,
        })
    }

    fn base_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Starts the postmaster (it dies with the test process) and waits until it accepts.
    fn launch(&self) -> anyhow::Result<std::process::Child> {
        let log = self.dir.join("postgres.log");
        let mut postgres = Command::new(self.bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=128MB",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log)?));
        if let Some((uid, gid)) = self.run_as {
            postgres.uid(uid).gid(gid);
        }
        let child = spawn_tied_to_process(postgres, libc::SIGQUIT)?;
        wait_until_accepting(self.port, &log)?;
        Ok(child)
    }
}

/// A PostgreSQL server of one test's own, for tests that stop and start it under the services
/// (the process's shared [`cluster`] must stay up for every other test).
pub struct OwnCluster {
    pub base_url: String,
    server: Server,
    postmaster: Option<std::process::Child>,
}

impl OwnCluster {
    pub fn start() -> anyhow::Result<Self> {
        let server = Server::init(&format!(
            "pg-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ))?;
        let postmaster = server.launch()?;
        Ok(Self {
            base_url: server.base_url(),
            server,
            postmaster: Some(postmaster),
        })
    }

    /// A fast shutdown (open sessions are ended, as when a database is restarted), waited for.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut postmaster) = self.postmaster.take() {
            signal(&postmaster, libc::SIGINT)?;
            postmaster
                .wait()
                .context("waiting for the postmaster to stop")?;
        }
        Ok(())
    }

    /// Starts the stopped server again, on the same port and data.
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        if self.postmaster.is_none() {
            self.postmaster = Some(self.server.launch()?);
        }
        Ok(())
    }

    /// A database migrated with `migrations` (a store's), made on this server.
    pub async fn database(
        &self,
        migrations: EmbeddedMigrations,
        lock_key: i64,
    ) -> anyhow::Result<TestDb> {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = connect(&format!("{}/postgres", self.base_url)).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .context("creating the database")?;
        let url = format!("{}/{name}", self.base_url);
        platform::db::run_migrations(&url, migrations, lock_key, Duration::from_secs(10)).await?;
        Ok(TestDb { name, url })
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        if let Some(p) = &self.postmaster {
            // Immediate shutdown: nothing of a test's cluster needs to be kept.
            let _ = signal(p, libc::SIGQUIT);
        }
        if let Some(mut p) = self.postmaster.take() {
            let _ = p.wait();
        }
        let _ = std::fs::remove_dir_all(&self.server.dir);
    }
}

#[allow(unsafe_code)]
fn signal(child: &std::process::Child, signal: libc::c_int) -> anyhow::Result<()> {
    let pid = libc::pid_t::try_from(child.id())?;
    // SAFETY: kill has no memory preconditions; the pid is our own child's, not yet reaped.
    if unsafe { libc::kill(pid, signal) } != 0 {
        bail!(
            "signalling the postmaster: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates.reverse();
    for c in candidates {
        if c.join("initdb").exists() && c.join("postgres").exists() {
            return Ok(c);
        }
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir);
        if p.join("initdb").exists() && p.join("postgres").exists() {
            return Ok(p.to_path_buf());
        }
    }
    bail!("no initdb/postgres found (install postgresql, or set PG_BIN_DIR or TEST_DATABASE_URL)")
}

#[allow(unsafe_code)]
fn unsafe_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[allow(unsafe_code)]
fn postgres_ids() -> anyhow::Result<(u32, u32)> {
    let name = c"postgres";
    // SAFETY: getpwnam returns null or a pointer to static storage valid until the next call;
    // we copy the two ids out immediately, on a single thread (inside OnceLock init).
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        bail!("running as root needs a `postgres` OS user (the postgresql package creates it)");
    }
    // SAFETY: pw is non-null and points to a valid passwd struct.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// Gives the postgres user the cluster directory. Only directories the harness created are
/// touched (never the system temp directory itself, which must stay 1777).
fn chown_recursive(path: &Path, uid: u32, gid: u32) -> anyhow::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    let tmp = std::env::temp_dir();
    let mut p = path.parent();
    while let Some(dir) = p {
        if !dir.starts_with(&tmp) || dir == tmp {
            break;
        }
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        p = dir.parent();
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Spawns from a thread that never exits, with PR_SET_PDEATHSIG, so the postmaster dies with
/// the test process (the signal follows the spawning thread, hence the parked thread).
#[allow(unsafe_code)]
pub(crate) fn spawn_tied_to_process(
    mut cmd: Command,
    signal: libc::c_int,
) -> anyhow::Result<std::process::Child> {
    let cmd_name = cmd.get_program().to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("testkit-spawner".into())
        .spawn(move || {
            // SAFETY: prctl is async-signal-safe; it only sets a flag on the child.
            unsafe {
                cmd.pre_exec(move || {
                    libc::prctl(libc::PR_SET_PDEATHSIG, signal);
                    Ok(())
                });
            }
            let spawned = cmd.spawn();
            let _ = tx.send(spawned);
            loop {
                std::thread::park();
            }
        })?;
    rx.recv()
        .context("spawner thread died")?
        .with_context(|| format!("spawning {:?}", cmd_name))
}

/// Waits for the postmaster to accept connections (its log says so), up to 30 s.
fn wait_until_accepting(port: u16, log: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("ready to accept connections")
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        {
            return Ok(());
        }
        if text.contains("FATAL") {
            bail!("postgres failed to start: {text}");
        }
        if Instant::now() > deadline {
            bail!("postgres did not become ready in 30 s: {text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Removes data directories of test processes that no longer run.
fn sweep_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        // `pg-<pid>` (the process's cluster) or `pg-<pid>-<id>` (a test's own).
        let pid = name
            .strip_prefix("pg-")
            .map(|rest| rest.split('-').next().unwrap_or(rest));
        if let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok())
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Templates migrated in this process, by store name.
static TEMPLATES: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// CREATE DATABASE … TEMPLATE fails while another clone of the same template runs; serialize.
static CLONE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A database of its own for one test, cloned from the store's migrated template.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// `store` names the template (e.g. `mithril`); `migrations` and `lock_key` are the store's.
    pub async fn new(
        store: &str,
        migrations: EmbeddedMigrations,
        lock_key: i64,
    ) -> anyhow::Result<Self> {
        let cluster = cluster()?;
        let template = format!("tmpl_{store}_{}", std::process::id());
        let _guard = CLONE_LOCK.lock().await;
        let ready = TEMPLATES
            .lock()
            .map_err(|_| anyhow::anyhow!("template registry poisoned"))?
            .contains(&template);
        if !ready {
            let mut admin = connect(&format!("{}/postgres", cluster.base_url)).await?;
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {template}"))
                .await
                .context("dropping a stale template database")?;
            admin
                .batch_execute(&format!("CREATE DATABASE {template}"))
                .await
                .context("creating the template database")?;
            drop(admin);
            let url = format!("{}/{template}", cluster.base_url);
            platform::db::run_migrations(&url, migrations, lock_key, Duration::from_secs(10))
                .await?;
            TEMPLATES
                .lock()
                .map_err(|_| anyhow::anyhow!("template registry poisoned"))?
                .push(template.clone());
        }
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = connect(&format!("{}/postgres", cluster.base_url)).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
            .context("cloning the template database")?;
        Ok(Self {
            url: format!("{}/{name}", cluster.base_url),
            name,
        })
    }

    /// A direct connection to this test's database (to read tables in assertions).
    pub async fn connect(&self) -> anyhow::Result<AsyncPgConnection> {
        connect(&self.url).await
    }

    /// Runs one statement (test setup: age a token, flip a flag).
    pub async fn exec(&self, sql: &str) {
        use diesel_async::RunQueryDsl;
        let mut conn = self.connected().await;
        if let Err(e) = diesel::sql_query(sql).execute(&mut conn).await {
            panic!("{sql}: {e}");
        }
    }

    /// The `n` column of a one-row query (`SELECT count(*) AS n …`).
    pub async fn count(&self, sql: &str) -> i64 {
        self.one::<CountRow>(sql).await.n
    }

    /// The `t` column of a one-row query (`SELECT … AS t`).
    pub async fn text(&self, sql: &str) -> String {
        self.one::<TextRow>(sql).await.t
    }

    async fn connected(&self) -> AsyncPgConnection {
        match self.connect().await {
            Ok(c) => c,
            Err(e) => panic!("test database: {e:#}"),
        }
    }

    async fn one<R>(&self, sql: &str) -> R
    where
        R: diesel::QueryableByName<diesel::pg::Pg> + Send + 'static,
    {
        use diesel_async::RunQueryDsl;
        let mut conn = self.connected().await;
        match diesel::sql_query(sql).get_result::<R>(&mut conn).await {
            Ok(r) => r,
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}

#[derive(diesel::QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct TextRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

/// Connects, retrying while the server is still starting up.
async fn connect(url: &str) -> anyhow::Result<AsyncPgConnection> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match AsyncPgConnection::establish(url).await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() < deadline && e.to_string().contains("starting up") => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("connecting to {url}"))),
        }
    }
}

/// Settings under which a worker's single-statement reads run on one shared connection and no
/// pooled connection is open but those requests take, each backend named `application_name`:
/// the tests of the shared reads count them in `pg_stat_activity`.
pub fn only_shared_reads(db: &mut platform::settings::DatabaseSettings, application_name: &str) {
    use secrecy::ExposeSecret;
    db.read_connections = 1;
    db.min_connections = 0;
    let url = db.url.expose_secret().to_owned();
    db.url = format!("{url}?application_name={application_name}").into();
}
