//! Approvals: the scopes a user granted a client, aggregated across authorizations.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::models::Page;
use crate::schema::{apps, clients};

#[derive(Debug, Queryable, Selectable, QueryableByName, Serialize, utoipa::ToSchema)]
#[diesel(table_name = apps, check_for_backend(diesel::pg::Pg))]
pub struct App {
    pub id: Uuid,
    pub user_id: Uuid,
    pub client_id: Uuid,
    pub scope: String,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct AppFilter {
    pub client_ids: Option<Vec<Uuid>>,
    /// Client-name prefixes (case-insensitive), OR-ed with `client_ids`.
    pub client_name_prefixes: Option<Vec<String>>,
}

fn filtered(
    user_id: Uuid,
    f: &AppFilter,
) -> diesel::dsl::IntoBoxed<'_, diesel::dsl::InnerJoin<apps::table, clients::table>, Pg> {
    let mut q = apps::table
        .inner_join(clients::table)
        .filter(apps::user_id.eq(user_id))
        .into_boxed();
    let by_id = f.client_ids.clone();
    let by_name: Option<Vec<String>> = f.client_name_prefixes.as_ref().map(|ps| {
        ps.iter()
            .map(|p| format!("{}%", crate::sql::like_escape(p)))
            .collect()
    });
    let name_matches = |names: Vec<String>| {
        diesel::dsl::sql::<diesel::sql_types::Bool>("clients.name ILIKE ANY(")
            .bind::<diesel::sql_types::Array<Text>, _>(names)
            .sql(")")
    };
    match (by_id, by_name) {
        (Some(ids), Some(names)) => {
            q = q.filter(apps::client_id.eq_any(ids).or(name_matches(names)))
        }
        (Some(ids), None) => q = q.filter(apps::client_id.eq_any(ids)),
        (None, Some(names)) => q = q.filter(name_matches(names)),
        (None, None) => {}
    }
    q
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    f: &AppFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<Page<App>> {
    let total = filtered(user_id, f).count().get_result(conn).await?;
    let rows = filtered(user_id, f)
        .select(App::as_select())
        .order((apps::inserted_at, apps::id))
        .limit(limit)
        .offset(offset)
        .load(conn)
        .await?;
    Ok(Page { rows, total })
}

/// The approval `id` if it belongs to `user_id`.
pub async fn get(conn: &mut AsyncPgConnection, user_id: Uuid, id: Uuid) -> QueryResult<App> {
    apps::table
        .filter(apps::id.eq(id).and(apps::user_id.eq(user_id)))
        .select(App::as_select())
        .first(conn)
        .await
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    client_id: Uuid,
) -> QueryResult<Option<App>> {
    apps::table
        .filter(apps::user_id.eq(user_id).and(apps::client_id.eq(client_id)))
        .select(App::as_select())
        .first(conn)
        .await
        .optional()
}

crate::sql::statement!(ApproveSql = "INSERT INTO apps (id, user_id, client_id, scope) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, client_id) DO UPDATE SET
           scope = (SELECT coalesce(string_agg(s, ' ' ORDER BY first), '')
                      FROM (SELECT s, min(ord) AS first
                              FROM unnest(string_to_array(apps.scope || ' ' || EXCLUDED.scope, ' ')) WITH ORDINALITY AS t(s, ord)
                             WHERE s <> '' GROUP BY s) merged),
           updated_at = now()
         RETURNING id, user_id, client_id, scope, inserted_at, updated_at");

/// Records that `user_id` approved `scope` for `client_id`; the stored scope becomes the union
/// of what was approved before and now (first-seen order). One statement, so concurrent
/// approvals of one pair cannot lose scopes.
pub async fn approve(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    client_id: Uuid,
    scope: &str,
) -> QueryResult<App> {
    crate::sql::Prepared::<ApproveSql>::new()
        .bind::<SqlUuid, _>(Uuid::now_v7())
        .bind::<SqlUuid, _>(user_id)
        .bind::<SqlUuid, _>(client_id)
        .bind::<Text, _>(scope)
        .get_result(conn)
        .await
}

pub async fn update_scope(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
    scope: &str,
) -> QueryResult<App> {
    diesel::update(apps::table.filter(apps::id.eq(id).and(apps::user_id.eq(user_id))))
        .set((apps::scope.eq(scope), apps::updated_at.eq(Utc::now())))
        .returning(App::as_returning())
        .get_result(conn)
        .await
}

/// Deletes the approval `id` of `user_id`; returns its client.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<Uuid>> {
    diesel::delete(apps::table.filter(apps::id.eq(id).and(apps::user_id.eq(user_id))))
        .returning(apps::client_id)
        .get_result(conn)
        .await
        .optional()
}

/// Deletes a user's approvals (of one client, or all); returns the clients concerned.
pub async fn delete_by_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    client_id: Option<Uuid>,
) -> QueryResult<Vec<Uuid>> {
    let mut q = diesel::delete(apps::table)
        .filter(apps::user_id.eq(user_id))
        .into_boxed();
    if let Some(c) = client_id {
        q = q.filter(apps::client_id.eq(c));
    }
    q.returning(apps::client_id).get_results(conn).await
}
