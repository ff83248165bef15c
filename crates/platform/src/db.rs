//! The connection pool (diesel-async over deadpool, no libpq) and migrations.
//!
//! Migrations are embedded in each store and applied under a Postgres advisory lock, so that
//! several replicas starting at once apply them exactly once; the others wait, then find
//! nothing pending.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use anyhow::Context;
use diesel::migration::MigrationSource;
use diesel::sql_types::BigInt;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use secrecy::ExposeSecret;

use crate::ApiError;
use crate::settings::DatabaseSettings;

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

/// Builds connection pools: one for the process (readiness, background jobs) and one per HTTP
/// worker. actix runs each worker on its own single-threaded runtime, and a connection's driver
/// task lives on the runtime that opened it; a pool shared by workers makes about half the
/// queries hop threads (measured: verify throughput 9.3k vs 15.1k req/s with one worker). With
/// a pool per worker every connection is opened and driven where it is used.
#[derive(Clone)]
pub struct PoolFactory {
    settings: DatabaseSettings,
    per_worker_size: usize,
    per_worker_floor: usize,
    process: DbPool,
}

impl PoolFactory {
    /// `workers` is the number of HTTP workers the process runs; the configured pool size and
    /// `min_connections` are split between them. The process pool keeps no floor: readiness
    /// and background jobs need one connection now and then.
    pub fn new(settings: &DatabaseSettings, workers: usize) -> anyhow::Result<Self> {
        let process = build_pool(settings)?;
        let workers = workers.max(1);
        let per_worker_size = settings.pool_size.div_ceil(workers).max(1);
        let per_worker_floor = settings
            .min_connections
            .div_ceil(workers)
            .min(per_worker_size);
        Ok(Self {
            settings: settings.clone(),
            per_worker_size,
            per_worker_floor,
            process,
        })
    }

    /// The process-wide pool.
    pub fn process(&self) -> DbPool {
        self.process.clone()
    }

    /// A new pool for the calling worker, its floor of connections opening in the background.
    /// The settings were validated by [`Self::new`]; should a build still fail, the worker
    /// shares the process pool (correct, only slower).
    pub fn per_worker(&self) -> DbPool {
        let mut s = self.settings.clone();
        s.pool_size = self.per_worker_size;
        s.min_connections = self.per_worker_floor;
        match pool_of(&s) {
            Ok(pool) => {
                maintain(&pool, s.idle_timeout(), s.min_connections);
                pool
            }
            Err(e) => {
                tracing::warn!(error = %e, "per-worker pool failed; sharing the process pool");
                self.process.clone()
            }
        }
    }

    /// The calling worker's shared read connections, falling back to `pool`.
    pub fn reads(&self, pool: DbPool) -> Reads {
        Reads::new(&self.settings, pool)
    }
}

/// One worker's single-statement reads, pipelined over a few connections they share.
///
/// A pooled connection serves one request at a time, so every read pays a round trip of its
/// own and its backend sleeps and wakes once per query. A read that is one statement outside a
/// transaction needs no connection to itself: statements that concurrent requests issue on one
/// `&AsyncPgConnection` are pipelined by tokio-postgres (one write carries several, the backend
/// reads them together and answers each in turn). Only for such reads: anything that writes,
/// locks or spans statements takes a pooled connection.
///
/// Connections open lazily on the worker that uses them (their driver task lives there) and
/// are dropped when a query reports them gone; the next read opens a new one. With
/// `read_connections = 0` reads take a pooled connection.
#[derive(Clone)]
pub struct Reads(Rc<ReadsInner>);

struct ReadsInner {
    url: secrecy::SecretString,
    connect_timeout: Duration,
    pool: DbPool,
    slots: Vec<RefCell<Option<Rc<AsyncPgConnection>>>>,
    next: Cell<usize>,
    /// One connect at a time: a burst of reads on a cold worker waits for it, not N connects.
    connecting: tokio::sync::Mutex<()>,
    /// When the last connect failed: the reads that waited behind it fail at once instead of
    /// each waiting out a connect timeout of its own.
    failed_at: Cell<Option<std::time::Instant>>,
}

/// How long after a failed connect reads fail without trying (they answer Retry-After: 1).
const CONNECT_RETRY: Duration = Duration::from_secs(1);

/// A connection for one read: shared (see [`Reads`]) or pooled.
pub enum ReadConn {
    Shared {
        conn: Rc<AsyncPgConnection>,
        slot: usize,
        reads: Reads,
    },
    /// Boxed: a pooled connection is large, and shared ones are the common case.
    Pooled(Box<DbConn>),
}

impl std::ops::Deref for ReadConn {
    type Target = AsyncPgConnection;
    fn deref(&self) -> &AsyncPgConnection {
        match self {
            ReadConn::Shared { conn, .. } => conn,
            ReadConn::Pooled(conn) => conn,
        }
    }
}

impl ReadConn {
    /// Passes a query's result through. A shared connection on which a read failed is
    /// forgotten, so the next read opens another: a prepared single read fails for little else
    /// than a lost connection (closed, or its backend terminated with the query in flight),
    /// and a needless reconnect costs one connect.
    pub fn checked<T>(&self, result: diesel::QueryResult<T>) -> diesel::QueryResult<T> {
        if let (Err(e), ReadConn::Shared { conn, slot, reads }) = (&result, self)
            && !matches!(e, diesel::result::Error::NotFound)
        {
            reads.forget(*slot, conn);
        }
        result
    }
}

impl Reads {
    pub fn new(settings: &DatabaseSettings, pool: DbPool) -> Self {
        Reads(Rc::new(ReadsInner {
            url: settings.url.clone(),
            connect_timeout: settings.connect_timeout(),
            pool,
            slots: (0..settings.read_connections)
                .map(|_| RefCell::new(None))
                .collect(),
            next: Cell::new(0),
            connecting: tokio::sync::Mutex::new(()),
            failed_at: Cell::new(None),
        }))
    }

    /// A connection for one read, or a 503 when the database cannot be reached in time.
    pub async fn conn(&self) -> Result<ReadConn, ApiError> {
        let inner = &self.0;
        if inner.slots.is_empty() {
            return conn(&inner.pool)
                .await
                .map(|c| ReadConn::Pooled(Box::new(c)));
        }
        let slot = inner.next.get() % inner.slots.len();
        inner.next.set(slot.wrapping_add(1));
        if let Some(conn) = self.open(slot) {
            return Ok(self.shared(conn, slot));
        }
        let _one_at_a_time = inner.connecting.lock().await;
        if let Some(conn) = self.open(slot) {
            return Ok(self.shared(conn, slot));
        }
        if inner
            .failed_at
            .get()
            .is_some_and(|at| at.elapsed() < CONNECT_RETRY)
        {
            return Err(unavailable());
        }
        let url = inner.url.expose_secret();
        let conn = match tokio::time::timeout(inner.connect_timeout, establish(url)).await {
            Ok(Ok(conn)) => Rc::new(conn),
            failed => {
                match failed {
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "no database connection for reads")
                    }
                    _ => tracing::warn!("timed out connecting to the database for reads"),
                }
                inner.failed_at.set(Some(std::time::Instant::now()));
                return Err(unavailable());
            }
        };
        inner.failed_at.set(None);
        *inner.slots[slot].borrow_mut() = Some(conn.clone());
        Ok(self.shared(conn, slot))
    }

    fn open(&self, slot: usize) -> Option<Rc<AsyncPgConnection>> {
        self.0.slots[slot].borrow().clone()
    }

    fn shared(&self, conn: Rc<AsyncPgConnection>, slot: usize) -> ReadConn {
        ReadConn::Shared {
            conn,
            slot,
            reads: self.clone(),
        }
    }

    /// Drops the slot's connection if it is still `gone` (a newer one may have replaced it).
    fn forget(&self, slot: usize, gone: &Rc<AsyncPgConnection>) {
        let mut current = self.0.slots[slot].borrow_mut();
        if current.as_ref().is_some_and(|c| Rc::ptr_eq(c, gone)) {
            tracing::warn!(
                slot,
                "shared read connection lost; reopening on the next read"
            );
            *current = None;
        }
    }
}

fn unavailable() -> ApiError {
    ApiError::service_unavailable("Database is unavailable. Try later.", 1)
}

/// Each statement a connection runs, as a span under the request's (exported traces only): its
/// SQL text (bind values are never included) and whether it failed.
#[derive(Default)]
struct QuerySpans {
    open: std::collections::VecDeque<tracing::Span>,
}

impl diesel::connection::Instrumentation for QuerySpans {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::connection::InstrumentationEvent as E;
        match event {
            E::StartQuery { query, .. } => {
                let mut sql = query.to_string();
                if let Some((cut, _)) = sql.char_indices().nth(300) {
                    sql.truncate(cut);
                }
                let operation = sql
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                self.open.push_back(tracing::info_span!(
                    "db.query",
                    otel.name = %format!("{operation} postgresql"),
                    otel.kind = "client",
                    db.system = "postgresql",
                    db.statement = %sql,
                    otel.status_code = tracing::field::Empty,
                ));
            }
            E::FinishQuery { error, .. } => {
                if let Some(span) = self.open.pop_front()
                    && error.is_some()
                {
                    span.record("otel.status_code", "ERROR");
                }
            }
            _ => {}
        }
    }
}

/// A pool that opens connections as requests need them and closes those idle for
/// `idle_timeout_secs` (no floor: see [`PoolFactory::per_worker`] for the workers' pools).
pub fn build_pool(s: &DatabaseSettings) -> anyhow::Result<DbPool> {
    let pool = pool_of(s)?;
    maintain(&pool, s.idle_timeout(), 0);
    Ok(pool)
}

/// How often a pool that closes no idle connection checks its floor.
const FLOOR_CHECK: Duration = Duration::from_secs(30);

/// The pool's upkeep, at once and then every `idle / 2` (without an idle timeout every
/// [`FLOOR_CHECK`]), for as long as the pool lives. A floor that covers the usual concurrency
/// means a burst finds its connections open (no connect, no backend fork, in the middle of
/// it), and the connections Postgres sees stay level instead of following each burst.
/// - closes the connections above `floor` that have not served for `idle`: with LIFO checkout
///   the connections a burst added are the ones left idle;
/// - opens connections up to `floor`: at start, and again after the database dropped them (a
///   restart), since a checkout replaces a connection it finds closed.
///
/// Without a runtime (nothing to run the task on) the pool keeps what it opens.
fn maintain(pool: &DbPool, idle: Option<Duration>, floor: usize) {
    if idle.is_none() && floor == 0 {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = pool.weak();
    let period = idle.map_or(FLOOR_CHECK, |idle| (idle / 2).max(Duration::from_secs(1)));
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(pool) = weak.upgrade() else {
                return;
            };
            if let Some(idle) = idle {
                close_idle_above(&pool, idle, floor);
            }
            fill_to(&pool, floor).await;
        }
    });
}

fn close_idle_above(pool: &DbPool, idle: Duration, floor: usize) {
    let mut above_floor = pool.status().size.saturating_sub(floor);
    pool.retain(|_, used| {
        if above_floor > 0 && used.last_used() >= idle {
            above_floor -= 1;
            return false;
        }
        true
    });
}

/// Checks out at once as many connections as `floor` lacks beyond those in use, and gives them
/// back: idle ones are checked (a closed one is replaced), missing ones are opened.
async fn fill_to(pool: &DbPool, floor: usize) {
    let status = pool.status();
    let in_use = status.size.saturating_sub(status.available);
    let wanted = floor.saturating_sub(in_use);
    if wanted == 0 {
        return;
    }
    let checked = futures_util::future::join_all((0..wanted).map(|_| pool.get())).await;
    if let Some(Err(e)) = checked.iter().find(|c| c.is_err()) {
        tracing::warn!(error = %e, floor, "could not open the pool's floor of connections; trying again later");
    }
}

/// A new connection, each statement it runs a span when traces are exported (pooled and shared
/// read connections alike).
async fn establish(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    if crate::telemetry::exporting() {
        conn.set_instrumentation(QuerySpans::default());
    }
    Ok(conn)
}

fn pool_of(s: &DatabaseSettings) -> anyhow::Result<DbPool> {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|url| Box::pin(establish(url)));
    // `Verified` would run a query on every checkout; a broken connection surfaces as a query
    // error instead and deadpool drops it.
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        s.url.expose_secret(),
        config,
    );
    Pool::builder(manager)
        .max_size(s.pool_size.max(1))
        // LIFO: the most recently used connections serve the next requests, so a pool that once
        // grew (a burst) keeps a small hot working set instead of cycling through every backend
        // (measured: code exchange at 16 concurrent requests after a 64-wide burst, FIFO ≈ 3.4k/s,
        // hot set ≈ 4.8k/s).
        .queue_mode(deadpool::managed::QueueMode::Lifo)
        .wait_timeout(Some(s.acquire_timeout()))
        .create_timeout(Some(s.connect_timeout()))
        .recycle_timeout(Some(s.connect_timeout()))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the database pool")
}

/// A pooled connection, or a 503 when none frees up in time or the database is unreachable.
pub async fn conn(pool: &DbPool) -> Result<DbConn, ApiError> {
    pool.get().await.map_err(|e| {
        tracing::warn!(error = %e, "no database connection");
        unavailable()
    })
}

/// Applies pending migrations under `pg_advisory_lock(lock_key)`. Needs a multi-thread tokio
/// runtime (the harness uses `block_in_place`).
pub async fn run_migrations(
    database_url: &str,
    migrations: EmbeddedMigrations,
    lock_key: i64,
    connect_timeout: Duration,
) -> anyhow::Result<()> {
    let mut conn =
        tokio::time::timeout(connect_timeout, AsyncPgConnection::establish(database_url))
            .await
            .context("timed out connecting to the database")?
            .context("connecting to the database")?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(lock_key)
        .execute(&mut conn)
        .await
        .context("taking the migration lock")?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let result = harness
        .run_pending_migrations(migrations)
        .map(|applied| applied.len())
        .map_err(|e| anyhow::anyhow!("applying migrations: {e}"));
    let mut conn = harness.into_inner();
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(lock_key)
        .execute(&mut conn)
        .await
        .context("releasing the migration lock")?;
    let applied = result?;
    if applied > 0 {
        tracing::info!(applied, "migrations applied");
    }
    Ok(())
}

/// The newest migration version the binary knows, e.g. `20261123000002`.
pub fn latest_migration(migrations: &EmbeddedMigrations) -> anyhow::Result<String> {
    let all = MigrationSource::<diesel::pg::Pg>::migrations(migrations)
        .map_err(|e| anyhow::anyhow!("listing migrations: {e}"))?;
    all.iter()
        .map(|m| m.name().version().to_string())
        .max()
        .context("no migrations embedded")
}

#[derive(diesel::QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    version: Option<String>,
}

/// Whether the database has `expected` applied.
pub async fn has_migration(conn: &mut AsyncPgConnection, expected: &str) -> anyhow::Result<bool> {
    let row: Version =
        diesel::sql_query("SELECT max(version)::text AS version FROM __diesel_schema_migrations")
            .get_result(conn)
            .await
            .context("reading applied migrations")?;
    Ok(row.version.as_deref().is_some_and(|v| v >= expected))
}
