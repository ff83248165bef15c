use chrono::Utc;
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::models::{ClientType, Page};
use crate::schema::client_types;

#[derive(Debug, Default)]
pub struct ClientTypeFilter {
    /// Exact name.
    pub name: Option<String>,
    /// Matches when the type has any of these scopes.
    pub scopes: Option<Vec<String>>,
}

type Boxed<'a> = client_types::BoxedQuery<'a, Pg>;

fn filtered(f: &ClientTypeFilter) -> Boxed<'_> {
    let mut q = client_types::table.into_boxed();
    if let Some(name) = &f.name {
        q = q.filter(client_types::name.eq(name));
    }
    if let Some(scopes) = &f.scopes {
        q = q.filter(
            sql::<Bool>("string_to_array(client_types.scope, ' ') && ")
                .bind::<Array<Text>, _>(scopes.clone()),
        );
    }
    q
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &ClientTypeFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<Page<ClientType>> {
    let total = filtered(f).count().get_result(conn).await?;
    let rows = filtered(f)
        .select(ClientType::as_select())
        .order((client_types::inserted_at, client_types::id))
        .limit(limit)
        .offset(offset)
        .load(conn)
        .await?;
    Ok(Page { rows, total })
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<ClientType> {
    client_types::table
        .find(id)
        .select(ClientType::as_select())
        .first(conn)
        .await
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: &str,
    scope: &str,
) -> QueryResult<ClientType> {
    diesel::insert_into(client_types::table)
        .values((
            client_types::id.eq(id),
            client_types::name.eq(name),
            client_types::scope.eq(scope),
        ))
        .returning(ClientType::as_returning())
        .get_result(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: Option<&str>,
    scope: Option<&str>,
) -> QueryResult<ClientType> {
    diesel::update(client_types::table.find(id))
        .set((
            name.map(|n| client_types::name.eq(n)),
            scope.map(|s| client_types::scope.eq(s)),
            client_types::updated_at.eq(Utc::now()),
        ))
        .returning(ClientType::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(client_types::table.find(id))
        .execute(conn)
        .await
}

pub async fn find_by_name(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> QueryResult<Option<ClientType>> {
    client_types::table
        .filter(client_types::name.eq(name))
        .select(ClientType::as_select())
        .first(conn)
        .await
        .optional()
}
