use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::schema::{global_user_roles, roles};

#[derive(Debug, Queryable, Serialize, utoipa::ToSchema)]
pub struct GlobalUserRole {
    pub id: Uuid,
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub role_name: String,
    pub scope: String,
}

fn view() -> (
    global_user_roles::id,
    global_user_roles::user_id,
    global_user_roles::role_id,
    global_user_roles::inserted_at,
    global_user_roles::updated_at,
    roles::name,
    roles::scope,
) {
    (
        global_user_roles::id,
        global_user_roles::user_id,
        global_user_roles::role_id,
        global_user_roles::inserted_at,
        global_user_roles::updated_at,
        roles::name,
        roles::scope,
    )
}

/// Grants the role (idempotent: an existing grant is returned as it is).
pub async fn grant(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    role_id: Uuid,
) -> QueryResult<GlobalUserRole> {
    diesel::insert_into(global_user_roles::table)
        .values((
            global_user_roles::id.eq(Uuid::now_v7()),
            global_user_roles::user_id.eq(user_id),
            global_user_roles::role_id.eq(role_id),
        ))
        .on_conflict((global_user_roles::user_id, global_user_roles::role_id))
        .do_nothing()
        .execute(conn)
        .await?;
    global_user_roles::table
        .inner_join(roles::table)
        .filter(
            global_user_roles::user_id
                .eq(user_id)
                .and(global_user_roles::role_id.eq(role_id)),
        )
        .select(view())
        .first(conn)
        .await
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<GlobalUserRole> {
    global_user_roles::table
        .inner_join(roles::table)
        .filter(
            global_user_roles::id
                .eq(id)
                .and(global_user_roles::user_id.eq(user_id)),
        )
        .select(view())
        .first(conn)
        .await
}

pub async fn list_for_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Vec<GlobalUserRole>> {
    global_user_roles::table
        .inner_join(roles::table)
        .filter(global_user_roles::user_id.eq(user_id))
        .select(view())
        .order(global_user_roles::inserted_at)
        .load(conn)
        .await
}
