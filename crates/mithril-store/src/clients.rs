use chrono::Utc;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::models::{Client, Page};
use crate::schema::{client_types, clients};
use crate::sql::like_contains;

#[derive(Debug, Default)]
pub struct ClientFilter {
    pub id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// Case-insensitive substring.
    pub name: Option<String>,
    pub is_blocked: Option<bool>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = clients)]
pub struct NewClient {
    pub id: Uuid,
    pub name: String,
    pub settings: serde_json::Value,
    pub priv_settings: serde_json::Value,
    pub user_id: Uuid,
    pub client_type_id: Uuid,
    pub is_blocked: bool,
    pub block_reason: Option<String>,
}

/// A partial update: `None` leaves the column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = clients)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub settings: Option<serde_json::Value>,
    pub priv_settings: Option<serde_json::Value>,
    pub user_id: Option<Uuid>,
    pub client_type_id: Option<Uuid>,
    pub is_blocked: Option<bool>,
    pub block_reason: Option<Option<String>>,
}

type Boxed<'a> = clients::BoxedQuery<'a, Pg>;

fn filtered(f: &ClientFilter) -> Boxed<'_> {
    let mut q = clients::table.into_boxed();
    if let Some(id) = f.id {
        q = q.filter(clients::id.eq(id));
    }
    if let Some(user_id) = f.user_id {
        q = q.filter(clients::user_id.eq(user_id));
    }
    if let Some(name) = &f.name {
        q = q.filter(clients::name.ilike(like_contains(name)));
    }
    if let Some(b) = f.is_blocked {
        q = q.filter(clients::is_blocked.eq(b));
    }
    q
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &ClientFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<Page<Client>> {
    let total = filtered(f).count().get_result(conn).await?;
    let rows = filtered(f)
        .select(Client::as_select())
        .order((clients::inserted_at, clients::id))
        .limit(limit)
        .offset(offset)
        .load(conn)
        .await?;
    Ok(Page { rows, total })
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Client> {
    clients::table
        .find(id)
        .select(Client::as_select())
        .first(conn)
        .await
}

/// The client with the name of its client type.
pub async fn get_with_type_name(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<(Client, String)> {
    clients::table
        .inner_join(client_types::table)
        .filter(clients::id.eq(id))
        .select((Client::as_select(), client_types::name))
        .first(conn)
        .await
}

/// Only the client-type name: the one column the client-context check needs.
/// One statement: it may run on a shared read connection (`platform::db::Reads`).
pub async fn type_name(mut conn: &AsyncPgConnection, id: Uuid) -> QueryResult<Option<String>> {
    clients::table
        .inner_join(client_types::table)
        .filter(clients::id.eq(id))
        .select(client_types::name)
        .first(&mut conn)
        .await
        .optional()
}

pub async fn exists(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(clients::table.find(id)))
        .get_result(conn)
        .await
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewClient) -> QueryResult<Client> {
    diesel::insert_into(clients::table)
        .values(new)
        .returning(Client::as_returning())
        .get_result(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &ClientChanges,
) -> QueryResult<Client> {
    diesel::update(clients::table.find(id))
        .set((changes, clients::updated_at.eq(Utc::now())))
        .returning(Client::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(clients::table.find(id)).execute(conn).await
}
