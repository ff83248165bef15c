//! `client_types` and `roles` have the same shape (a unique name and a space-separated scope)
//! and the same queries; one macro writes both modules.

macro_rules! named_scope_queries {
    ($table:ident, $model:ident, $name_key:literal) => {
        use chrono::Utc;
        use diesel::dsl::sql;
        use diesel::pg::Pg;
        use diesel::prelude::*;
        use diesel::sql_types::{Array, Bool, Text};
        use diesel_async::{AsyncPgConnection, RunQueryDsl};
        use uuid::Uuid;

        use crate::models::{Page, $model};
        use crate::schema::$table;

        /// The unique constraint on the name.
        pub const NAME_KEY: &str = $name_key;

        #[derive(Debug, Default)]
        pub struct Filter {
            /// Exact name.
            pub name: Option<String>,
            /// Matches rows having any of these scopes.
            pub scopes: Option<Vec<String>>,
        }

        fn filtered(f: &Filter) -> $table::BoxedQuery<'_, Pg> {
            let mut q = $table::table.into_boxed();
            if let Some(name) = &f.name {
                q = q.filter($table::name.eq(name));
            }
            if let Some(scopes) = &f.scopes {
                q = q.filter(
                    sql::<Bool>(concat!(
                        "string_to_array(",
                        stringify!($table),
                        ".scope, ' ') && "
                    ))
                    .bind::<Array<Text>, _>(scopes.clone()),
                );
            }
            q
        }

        pub async fn list(
            conn: &mut AsyncPgConnection,
            f: &Filter,
            limit: i64,
            offset: i64,
        ) -> QueryResult<Page<$model>> {
            let total = filtered(f).count().get_result(conn).await?;
            let rows = filtered(f)
                .select($model::as_select())
                .order(($table::inserted_at, $table::id))
                .limit(limit)
                .offset(offset)
                .load(conn)
                .await?;
            Ok(Page { rows, total })
        }

        pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<$model> {
            $table::table
                .find(id)
                .select($model::as_select())
                .first(conn)
                .await
        }

        pub async fn insert(
            conn: &mut AsyncPgConnection,
            id: Uuid,
            name: &str,
            scope: &str,
        ) -> QueryResult<$model> {
            diesel::insert_into($table::table)
                .values((
                    $table::id.eq(id),
                    $table::name.eq(name),
                    $table::scope.eq(scope),
                ))
                .returning($model::as_returning())
                .get_result(conn)
                .await
        }

        pub async fn update(
            conn: &mut AsyncPgConnection,
            id: Uuid,
            name: Option<&str>,
            scope: Option<&str>,
        ) -> QueryResult<$model> {
            diesel::update($table::table.find(id))
                .set((
                    name.map(|n| $table::name.eq(n)),
                    scope.map(|s| $table::scope.eq(s)),
                    $table::updated_at.eq(Utc::now()),
                ))
                .returning($model::as_returning())
                .get_result(conn)
                .await
        }

        pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
            diesel::delete($table::table.find(id)).execute(conn).await
        }
    };
}

pub(crate) use named_scope_queries;
