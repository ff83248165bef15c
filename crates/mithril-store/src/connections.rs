use chrono::Utc;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ehealth_core::SecretHash;
use uuid::Uuid;

use crate::models::{Connection, Page};
use crate::schema::connections;
use crate::sql::like_contains;

#[derive(Debug, Default)]
pub struct ConnectionFilter {
    pub consumer_id: Option<Uuid>,
    /// Case-insensitive substring.
    pub redirect_uri: Option<String>,
}

type Boxed<'a> = connections::BoxedQuery<'a, Pg>;

/// Connection `id`, only if it is one of `client_id`'s.
type OneOf = diesel::dsl::Filter<
    connections::table,
    diesel::dsl::And<
        diesel::dsl::Eq<connections::id, Uuid>,
        diesel::dsl::Eq<connections::client_id, Uuid>,
    >,
>;

fn one_of(client_id: Uuid, id: Uuid) -> OneOf {
    connections::table.filter(
        connections::id
            .eq(id)
            .and(connections::client_id.eq(client_id)),
    )
}

fn filtered(client_id: Uuid, f: &ConnectionFilter) -> Boxed<'_> {
    let mut q = connections::table
        .filter(connections::client_id.eq(client_id))
        .into_boxed();
    if let Some(consumer_id) = f.consumer_id {
        q = q.filter(connections::consumer_id.eq(consumer_id));
    }
    if let Some(uri) = &f.redirect_uri {
        q = q.filter(connections::redirect_uri.ilike(like_contains(uri)));
    }
    q
}

/// A page and the total: two single statements, sent together (pipelined on one connection),
/// so they may run on a shared read connection (`platform::db::Reads`).
pub async fn list(
    conn: &AsyncPgConnection,
    client_id: Uuid,
    f: &ConnectionFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<Page<Connection>> {
    let (mut for_total, mut for_rows) = (conn, conn);
    let total = filtered(client_id, f).count().get_result(&mut for_total);
    let rows = filtered(client_id, f)
        .select(Connection::as_select())
        .order((connections::inserted_at, connections::id))
        .limit(limit)
        .offset(offset)
        .load(&mut for_rows);
    let (total, rows) = futures_util::future::try_join(total, rows).await?;
    Ok(Page { rows, total })
}

/// The connection `id` if it is one of `client_id`'s. One statement (see [`list`]).
pub async fn get(
    mut conn: &AsyncPgConnection,
    client_id: Uuid,
    id: Uuid,
) -> QueryResult<Connection> {
    one_of(client_id, id)
        .select(Connection::as_select())
        .first(&mut conn)
        .await
}

/// What [`upsert`] did.
#[derive(Debug)]
pub enum Upserted {
    Created(Connection),
    /// It existed: only its redirect URI was set.
    Updated(Connection),
    /// It exists as the other kind (public or confidential): nothing changed.
    KindDiffers,
}

/// Creates the (client, consumer) connection with `secret` (`None`: a public connection), or,
/// when it exists and is of the same kind, only updates its redirect URI (the secret of an
/// existing connection never changes here). Safe under concurrent calls: the insert is
/// `ON CONFLICT DO NOTHING`.
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
    consumer_id: Uuid,
    redirect_uri: &str,
    secret: Option<&SecretHash>,
) -> QueryResult<Upserted> {
    let is_public = secret.is_none();
    let inserted = diesel::insert_into(connections::table)
        .values((
            connections::id.eq(Uuid::now_v7()),
            connections::client_id.eq(client_id),
            connections::consumer_id.eq(consumer_id),
            connections::redirect_uri.eq(redirect_uri),
            connections::secret_hash.eq(secret.map(SecretHash::to_vec)),
            connections::is_public.eq(is_public),
        ))
        .on_conflict((connections::client_id, connections::consumer_id))
        .do_nothing()
        .returning(Connection::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    if let Some(row) = inserted {
        return Ok(Upserted::Created(row));
    }
    let updated = diesel::update(
        connections::table.filter(
            connections::client_id
                .eq(client_id)
                .and(connections::consumer_id.eq(consumer_id))
                .and(connections::is_public.eq(is_public)),
        ),
    )
    .set((
        connections::redirect_uri.eq(redirect_uri),
        connections::updated_at.eq(Utc::now()),
    ))
    .returning(Connection::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    Ok(updated.map_or(Upserted::KindDiffers, Upserted::Updated))
}

pub async fn update_redirect_uri(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
    id: Uuid,
    redirect_uri: &str,
) -> QueryResult<Connection> {
    diesel::update(one_of(client_id, id))
        .set((
            connections::redirect_uri.eq(redirect_uri),
            connections::updated_at.eq(Utc::now()),
        ))
        .returning(Connection::as_returning())
        .get_result(conn)
        .await
}

/// Sets the secret of a confidential connection (a public one has none: `NotFound`).
pub async fn set_secret(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
    id: Uuid,
    secret: &SecretHash,
) -> QueryResult<Connection> {
    diesel::update(one_of(client_id, id).filter(connections::is_public.eq(false)))
        .set((
            connections::secret_hash.eq(secret.as_bytes()),
            connections::updated_at.eq(Utc::now()),
        ))
        .returning(Connection::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, client_id: Uuid, id: Uuid) -> QueryResult<usize> {
    diesel::delete(one_of(client_id, id)).execute(conn).await
}

/// The connection whose secret hashes to `secret` (an `api-key` or a `client_secret`).
pub async fn find_by_secret(
    conn: &mut AsyncPgConnection,
    secret: &SecretHash,
) -> QueryResult<Option<Connection>> {
    connections::table
        .filter(connections::secret_hash.eq(secret.as_bytes()))
        .select(Connection::as_select())
        .first(conn)
        .await
        .optional()
}

/// The confidential connection of `client_id` whose secret hashes to `secret` (a client
/// authenticating at the token endpoint).
pub async fn authenticate(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
    secret: &SecretHash,
) -> QueryResult<Option<Connection>> {
    connections::table
        .filter(connections::client_id.eq(client_id))
        .filter(connections::secret_hash.eq(secret.as_bytes()))
        .select(Connection::as_select())
        .first(conn)
        .await
        .optional()
}

/// A redirect URI registered on one of a client's connections, and whether that connection is
/// public.
#[derive(Debug, Clone, Queryable)]
pub struct Registered {
    pub id: Uuid,
    pub redirect_uri: String,
    pub is_public: bool,
}

/// The redirect URIs registered on `client_id`'s connections (authorize matches against any).
pub async fn redirects(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
) -> QueryResult<Vec<Registered>> {
    connections::table
        .filter(connections::client_id.eq(client_id))
        .select((
            connections::id,
            connections::redirect_uri,
            connections::is_public,
        ))
        .load(conn)
        .await
}
