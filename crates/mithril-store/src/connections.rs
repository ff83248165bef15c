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

pub async fn list(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
    f: &ConnectionFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<Page<Connection>> {
    let total = filtered(client_id, f).count().get_result(conn).await?;
    let rows = filtered(client_id, f)
        .select(Connection::as_select())
        .order((connections::inserted_at, connections::id))
        .limit(limit)
        .offset(offset)
        .load(conn)
        .await?;
    Ok(Page { rows, total })
}

/// The connection `id` if it is one of `client_id`'s.
pub async fn get(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
    id: Uuid,
) -> QueryResult<Connection> {
    one_of(client_id, id)
        .select(Connection::as_select())
        .first(conn)
        .await
}

/// Creates the (client, consumer) connection with `secret`, or, when it exists, only updates its
/// redirect URI (the secret of an existing connection never changes here). Returns the row and
/// whether it was created. Safe under concurrent calls: the insert is `ON CONFLICT DO NOTHING`.
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
    consumer_id: Uuid,
    redirect_uri: &str,
    secret: &SecretHash,
) -> QueryResult<(Connection, bool)> {
    let inserted = diesel::insert_into(connections::table)
        .values((
            connections::id.eq(Uuid::now_v7()),
            connections::client_id.eq(client_id),
            connections::consumer_id.eq(consumer_id),
            connections::redirect_uri.eq(redirect_uri),
            connections::secret_hash.eq(secret.as_bytes()),
        ))
        .on_conflict((connections::client_id, connections::consumer_id))
        .do_nothing()
        .returning(Connection::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    if let Some(row) = inserted {
        return Ok((row, true));
    }
    let updated = diesel::update(
        connections::table.filter(
            connections::client_id
                .eq(client_id)
                .and(connections::consumer_id.eq(consumer_id)),
        ),
    )
    .set((
        connections::redirect_uri.eq(redirect_uri),
        connections::updated_at.eq(Utc::now()),
    ))
    .returning(Connection::as_returning())
    .get_result(conn)
    .await?;
    Ok((updated, false))
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

pub async fn set_secret(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
    id: Uuid,
    secret: &SecretHash,
) -> QueryResult<Connection> {
    diesel::update(one_of(client_id, id))
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

/// The redirect URIs registered on `client_id`'s connections (authorize matches against any).
pub async fn redirect_uris(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
) -> QueryResult<Vec<String>> {
    connections::table
        .filter(connections::client_id.eq(client_id))
        .select(connections::redirect_uri)
        .load(conn)
        .await
}
