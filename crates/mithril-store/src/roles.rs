use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::models::Role;
use crate::schema::roles;

pub async fn find_by_name(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<Option<Role>> {
    roles::table
        .filter(roles::name.eq(name))
        .select(Role::as_select())
        .first(conn)
        .await
        .optional()
}
