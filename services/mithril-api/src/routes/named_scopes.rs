//! `/admin/client_types` and `/admin/roles`: the same CRUD over a unique name and a
//! space-separated scope. One macro writes both modules (each with its own body types, schemas,
//! wrapper key and OpenAPI annotations).

macro_rules! named_scope_routes {
    (
        store: $store:ident, model: $model:ident, wrapper: $wrapper:literal,
        create: $create:ident = $create_schema:literal, update: $update:ident = $update_schema:literal,
        collection: $collection:literal, item: $item:literal, tag: $tag:literal,
        in_use: $in_use:literal
    ) => {
        use actix_web::web;
        use diesel::result::OptionalExtension;
        use ehealth_core::{Paging, ScopeSet};
        use mithril_store::$model;
        use mithril_store::$store;
        use platform::db;
        use platform::error::{ConstraintKind, violated_constraint};
        use platform::query::QueryParams;
        use platform::{ApiError, ApiResult, Reply, RequestSchema, ValidatedJson};
        use serde::Deserialize;
        use utoipa::ToSchema;
        use uuid::Uuid;

        use crate::connections::MAX_PAGE_SIZE;
        use crate::startup::AppState;

        #[derive(Deserialize, ToSchema)]
        pub struct $create {
            pub name: String,
            /// Space-separated scopes.
            pub scope: String,
        }

        impl RequestSchema for $create {
            const SCHEMA: &'static str = $create_schema;
            const WRAPPER: Option<&'static str> = Some($wrapper);
        }

        #[derive(Deserialize, ToSchema)]
        pub struct $update {
            pub name: Option<String>,
            pub scope: Option<String>,
        }

        impl RequestSchema for $update {
            const SCHEMA: &'static str = $update_schema;
            const WRAPPER: Option<&'static str> = Some($wrapper);
        }

        fn name_taken(e: diesel::result::Error) -> ApiError {
            match violated_constraint(&e) {
                Some((ConstraintKind::Unique, key)) if key == $store::NAME_KEY => {
                    ApiError::invalid_field("$.name", "unique", "has already been taken")
                }
                _ => e.into(),
            }
        }

        fn normalize(scope: &str) -> String {
            ScopeSet::parse(scope).to_string()
        }

        #[utoipa::path(get, path = $collection, tag = $tag,
            params(("name" = Option<String>, Query, description = "exact name"),
                   ("scope" = Option<String>, Query, description = "comma-separated scopes; matches rows having any of them"),
                   ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query, description = "1..=50, default 50")),
            responses((status = 200, description = "list envelope", body = Vec<$model>),
                      (status = 422, description = "bad query parameter", body = ehealth_core::ErrorBody)))]
        pub async fn list(state: web::Data<AppState>, query: QueryParams) -> ApiResult<Reply> {
            let mut q = query.reader();
            let filter = $store::Filter {
                name: q.string("name"),
                scopes: q.string("scope").map(|s| {
                    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect()
                }),
            };
            let page = q.page(MAX_PAGE_SIZE);
            q.finish()?;
            let mut conn = db::conn(&state.pool).await?;
            let found = $store::list(&mut conn, &filter, page.page_size, page.offset()).await?;
            Ok(Reply::list(found.rows, Paging::new(page.page, page.page_size, found.total)))
        }

        #[utoipa::path(post, path = $collection, tag = $tag,
            request_body(content = $create, description = concat!("wrapped as {\"", $wrapper, "\": {...}}")),
            responses((status = 201, body = $model), (status = 422, body = ehealth_core::ErrorBody)))]
        pub async fn create(state: web::Data<AppState>, body: ValidatedJson<$create>) -> ApiResult<Reply> {
            let body = body.into_inner();
            let mut conn = db::conn(&state.pool).await?;
            let created = $store::insert(&mut conn, Uuid::now_v7(), &body.name, &normalize(&body.scope))
                .await
                .map_err(name_taken)?;
            Ok(Reply::created(created))
        }

        #[utoipa::path(get, path = $item, tag = $tag, params(("id" = Uuid, Path)),
            responses((status = 200, body = $model), (status = 404, body = ehealth_core::ErrorBody)))]
        pub async fn show(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
            let mut conn = db::conn(&state.pool).await?;
            Ok(Reply::ok($store::get(&mut conn, *id).await?))
        }

        #[utoipa::path(method(put, patch), path = $item, tag = $tag, params(("id" = Uuid, Path)),
            request_body(content = $update, description = "absent fields keep their value; PATCH is the same"),
            responses((status = 200, body = $model), (status = 404, body = ehealth_core::ErrorBody),
                      (status = 422, body = ehealth_core::ErrorBody)))]
        pub async fn update(
            state: web::Data<AppState>,
            id: web::Path<Uuid>,
            body: ValidatedJson<$update>,
        ) -> ApiResult<Reply> {
            let body = body.into_inner();
            let scope = body.scope.as_deref().map(normalize);
            let mut conn = db::conn(&state.pool).await?;
            let updated = $store::update(&mut conn, *id, body.name.as_deref(), scope.as_deref())
                .await
                .optional()
                .map_err(name_taken)?
                .ok_or_else(ApiError::not_found)?;
            Ok(Reply::ok(updated))
        }

        #[utoipa::path(delete, path = $item, tag = $tag, params(("id" = Uuid, Path)),
            responses((status = 204, description = "deleted"), (status = 404, body = ehealth_core::ErrorBody),
                      (status = 409, description = $in_use, body = ehealth_core::ErrorBody)))]
        pub async fn delete(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
            let mut conn = db::conn(&state.pool).await?;
            match $store::delete(&mut conn, *id).await {
                Ok(0) => Err(ApiError::not_found()),
                Ok(_) => Ok(Reply::no_content()),
                Err(e) => match violated_constraint(&e) {
                    Some((ConstraintKind::ForeignKey, _)) => Err(ApiError::conflict($in_use)),
                    _ => Err(e.into()),
                },
            }
        }

        /// Registers the five routes.
        pub fn routes(cfg: &mut web::ServiceConfig) {
            cfg.service(web::resource($collection).get(list).post(create)).service(
                web::resource($item).get(show).put(update).patch(update).delete(delete),
            );
        }
    };
}

pub(crate) use named_scope_routes;
