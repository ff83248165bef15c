use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::schema::{clients, roles, user_roles};

/// The short view (create, show).
#[derive(Debug, Queryable, Serialize, utoipa::ToSchema)]
pub struct UserRole {
    pub id: Uuid,
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub client_id: Uuid,
    pub scope: String,
}

/// The list view, with role and client names.
#[derive(Debug, Queryable, Serialize, utoipa::ToSchema)]
pub struct UserRoleFull {
    pub id: Uuid,
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub role_name: String,
    pub client_id: Uuid,
    pub client_name: String,
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct UserRoleFilter {
    pub user_id: Option<Uuid>,
    pub user_ids: Option<Vec<Uuid>>,
    pub role_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
}

type Joined =
    diesel::dsl::InnerJoin<diesel::dsl::InnerJoin<user_roles::table, roles::table>, clients::table>;

fn filtered(f: &UserRoleFilter) -> diesel::dsl::IntoBoxed<'_, Joined, Pg> {
    let mut q = user_roles::table
        .inner_join(roles::table)
        .inner_join(clients::table)
        .into_boxed();
    if let Some(id) = f.user_id {
        q = q.filter(user_roles::user_id.eq(id));
    }
    if let Some(ids) = &f.user_ids {
        q = q.filter(user_roles::user_id.eq_any(ids.clone()));
    }
    if let Some(id) = f.role_id {
        q = q.filter(user_roles::role_id.eq(id));
    }
    if let Some(id) = f.client_id {
        q = q.filter(user_roles::client_id.eq(id));
    }
    q
}

/// Unpaged, as in the reference.
pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &UserRoleFilter,
) -> QueryResult<Vec<UserRoleFull>> {
    filtered(f)
        .select((
            user_roles::id,
            user_roles::user_id,
            user_roles::role_id,
            roles::name,
            user_roles::client_id,
            clients::name,
            roles::scope,
            user_roles::inserted_at,
            user_roles::updated_at,
        ))
        .order((user_roles::inserted_at, user_roles::id))
        .load(conn)
        .await
}

pub async fn get(conn: &mut AsyncPgConnection, user_id: Uuid, id: Uuid) -> QueryResult<UserRole> {
    user_roles::table
        .inner_join(roles::table)
        .filter(user_roles::id.eq(id).and(user_roles::user_id.eq(user_id)))
        .select((
            user_roles::id,
            user_roles::user_id,
            user_roles::role_id,
            user_roles::client_id,
            roles::scope,
        ))
        .first(conn)
        .await
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    role_id: Uuid,
    client_id: Uuid,
) -> QueryResult<UserRole> {
    let id: Uuid = diesel::insert_into(user_roles::table)
        .values((
            user_roles::id.eq(Uuid::now_v7()),
            user_roles::user_id.eq(user_id),
            user_roles::role_id.eq(role_id),
            user_roles::client_id.eq(client_id),
        ))
        .returning(user_roles::id)
        .get_result(conn)
        .await?;
    get(conn, user_id, id).await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(user_roles::table.find(id))
        .execute(conn)
        .await
}

/// Deletes a user's roles by role name, or by client and/or role id.
pub async fn delete_by_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    role_name: Option<&str>,
    client_id: Option<Uuid>,
    role_id: Option<Uuid>,
) -> QueryResult<usize> {
    let mut q = diesel::delete(user_roles::table)
        .filter(user_roles::user_id.eq(user_id))
        .into_boxed();
    if let Some(name) = role_name {
        q = q.filter(
            user_roles::role_id.eq_any(
                roles::table
                    .filter(roles::name.eq(name.to_owned()))
                    .select(roles::id),
            ),
        );
    }
    if let Some(c) = client_id {
        q = q.filter(user_roles::client_id.eq(c));
    }
    if let Some(r) = role_id {
        q = q.filter(user_roles::role_id.eq(r));
    }
    q.execute(conn).await
}

#[derive(QueryableByName)]
struct ScopeRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    scope: String,
}

crate::sql::statement!(RoleScopesSql = "SELECT r.scope FROM user_roles ur JOIN roles r ON r.id = ur.role_id
          WHERE ur.user_id = $1 AND ur.client_id = $2
         UNION ALL
         SELECT r.scope FROM global_user_roles g JOIN roles r ON r.id = g.role_id WHERE g.user_id = $1");

/// The scopes of the user's roles for `client_id` plus its global roles (space-joined rows).
pub async fn role_scopes(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    client_id: Uuid,
) -> QueryResult<Vec<String>> {
    let rows: Vec<ScopeRow> = crate::sql::Prepared::<RoleScopesSql>::new()
        .bind::<SqlUuid, _>(user_id)
        .bind::<SqlUuid, _>(client_id)
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|r| r.scope).collect())
}
