//! The OpenAPI document, generated from the handler annotations. Its committed snapshot is
//! `proto-contracts/openapi/mithril-api.json`; a test fails when the two differ.

use utoipa::OpenApi;

use crate::routes::{
    admin_connections, apps, client_types, clients, public_connections, roles, user_roles, users,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mithril-api",
        description = "Client types, clients and connections. Every answer is the envelope \
            {\"meta\":{url,type,code,request_id},\"data\":..} (lists add \"paging\"); errors are \
            {\"meta\":..,\"error\":{type,message[,invalid]}}. /admin routes are internal; /api routes \
            are reached through the gatekeeper, which sets x-consumer-id and x-consumer-metadata."
    ),
    paths(
        client_types::list,
        client_types::create,
        client_types::show,
        client_types::update,
        client_types::delete,
        clients::list,
        clients::create,
        clients::show,
        clients::details,
        clients::upsert,
        clients::delete,
        admin_connections::list,
        admin_connections::show,
        admin_connections::upsert,
        admin_connections::update,
        admin_connections::refresh_secret,
        admin_connections::delete,
        public_connections::list,
        public_connections::show,
        public_connections::update,
        public_connections::delete,
        public_connections::refresh_secret,
        roles::list,
        roles::create,
        roles::show,
        roles::update,
        roles::delete,
        users::list,
        users::create,
        users::show,
        users::update,
        users::delete,
        users::block,
        users::unblock,
        user_roles::list_for_user,
        user_roles::list,
        user_roles::create,
        user_roles::show,
        user_roles::delete_by_user,
        user_roles::delete,
        user_roles::grant_global,
        user_roles::show_global,
        apps::list,
        apps::create,
        apps::show,
        apps::update,
        apps::delete,
        apps::delete_by_user,
    ),
    components(schemas(
        ehealth_core::Meta,
        ehealth_core::Paging,
        ehealth_core::ErrorBody,
        ehealth_core::InvalidEntry,
        ehealth_core::Rule
    ))
)]
pub struct ApiDoc;
