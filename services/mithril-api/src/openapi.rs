//! The OpenAPI document: the handler annotations completed as the wire has them
//! ([`platform::openapi`]). Its committed snapshot is `proto-contracts/openapi/mithril-api.json`;
//! a test fails when the two differ, and `make contract` runs schemathesis against it.

use platform::Schemas;
use platform::admin::admin_paths;
use platform::openapi::{BodySchema, Contract, Refusal};
use utoipa::OpenApi;

use crate::connections::{ConnectionUpdate, ConnectionUpsert};
use crate::routes::{
    admin_connections, apps, client_types, clients, factors, public_connections, roles, user_roles,
    users,
};

/// The served document.
pub fn document(schemas: &Schemas) -> anyhow::Result<serde_json::Value> {
    platform::openapi::wire(&ApiDoc::openapi(), schemas, &contract())
}

fn contract() -> Contract {
    Contract {
        access: admin_paths,
        identity: |path| path.starts_with("/api/"),
        // Approvals record who acted for the user ([`platform::Actor`]).
        actor: |method, path| path.starts_with("/admin/apps") && method != "options",
        bodies: vec![
            BodySchema::of::<client_types::ClientTypeCreate>(),
            BodySchema::of::<factors::FactorCreate>(),
            BodySchema::of::<client_types::ClientTypeUpdate>(),
            BodySchema::of::<roles::RoleCreate>(),
            BodySchema::of::<roles::RoleUpdate>(),
            BodySchema::of::<clients::ClientCreate>(),
            BodySchema::of::<clients::ClientUpsert>(),
            BodySchema::of::<ConnectionUpsert>(),
            BodySchema::of::<ConnectionUpdate>(),
            BodySchema::of::<users::UserCreate>(),
            BodySchema::of::<users::UserUpdate>(),
            BodySchema::of::<users::UserBlock>(),
            BodySchema::of::<user_roles::UserRoleCreate>(),
            BodySchema::of::<user_roles::GlobalUserRoleCreate>(),
            BodySchema::of::<apps::AppCreate>(),
            BodySchema::of::<apps::AppUpdate>(),
        ],
        max_page_size: crate::connections::MAX_PAGE_SIZE,
        uuid_lists: &["ids", "user_ids"],
        own_form: |_| false,
        refusals: REFUSALS,
    }
}

const fn refusal(
    path: &'static str,
    entry: &'static str,
    rule: &'static str,
    why: &'static str,
) -> Refusal {
    Refusal {
        path,
        entry,
        rule,
        why,
    }
}

const NAME_TAKEN: &str = "another row has this name";
const NO_USER: &str = "no user has this id";
const NO_CLIENT_TYPE: &str = "no client type has this id";
const NO_CLIENT: &str = "no client has this id";
const NEW_CLIENT: &str = "needed when the id names no client yet (the client is created)";

/// The rules of the data behind this service's 422s (ARCHITECTURE.md, validation).
const REFUSALS: &[Refusal] = &[
    refusal("/admin/client_types", "$.name", "unique", NAME_TAKEN),
    refusal("/admin/client_types/{id}", "$.name", "unique", NAME_TAKEN),
    refusal("/admin/roles", "$.name", "unique", NAME_TAKEN),
    refusal("/admin/roles/{id}", "$.name", "unique", NAME_TAKEN),
    refusal("/admin/clients", "$.user_id", "existence", NO_USER),
    refusal(
        "/admin/clients",
        "$.client_type_id",
        "existence",
        NO_CLIENT_TYPE,
    ),
    refusal(
        "/admin/clients/{client_id}",
        "$.user_id",
        "existence",
        NO_USER,
    ),
    refusal(
        "/admin/clients/{client_id}",
        "$.client_type_id",
        "existence",
        NO_CLIENT_TYPE,
    ),
    // PUT and PATCH create the client when the id names none: then these fields are needed.
    refusal(
        "/admin/clients/{client_id}",
        "$.name",
        "required",
        NEW_CLIENT,
    ),
    refusal(
        "/admin/clients/{client_id}",
        "$.user_id",
        "required",
        NEW_CLIENT,
    ),
    refusal(
        "/admin/clients/{client_id}",
        "$.client_type_id",
        "required",
        NEW_CLIENT,
    ),
    refusal(
        "/admin/clients/{client_id}",
        "$.priv_settings",
        "required",
        NEW_CLIENT,
    ),
    refusal(
        "/admin/clients/{client_id}/connections",
        "$.consumer_id",
        "existence",
        NO_CLIENT,
    ),
    refusal("/admin/apps", "$.user_id", "existence", NO_USER),
    refusal("/admin/apps", "$.client_id", "existence", NO_CLIENT),
    refusal(
        "/admin/users",
        "$.email",
        "unique",
        "another user has this email",
    ),
    refusal(
        "/admin/users",
        "$.password",
        "length",
        "the password policy: 12 characters or more",
    ),
    refusal(
        "/admin/users",
        "$.password",
        "format",
        "the password policy: upper- and lower-case letters and a digit",
    ),
    refusal(
        "/admin/users/{id}",
        "$.email",
        "unique",
        "another user has this email",
    ),
    refusal(
        "/admin/users/{id}",
        "$.password",
        "length",
        "the password policy: 12 characters or more",
    ),
    refusal(
        "/admin/users/{id}",
        "$.password",
        "format",
        "the password policy: upper- and lower-case letters and a digit",
    ),
    refusal(
        "/admin/users/{id}",
        "$.password",
        "password_used",
        "one of the user's recent passwords",
    ),
    refusal(
        "/admin/users/{user_id}/roles",
        "$.role_id",
        "existence",
        "no role has this id",
    ),
    refusal(
        "/admin/users/{user_id}/roles",
        "$.role_id",
        "unique",
        "the user has this role for this client already",
    ),
    refusal(
        "/admin/users/{user_id}/roles",
        "$.client_id",
        "existence",
        NO_CLIENT,
    ),
    refusal(
        "/admin/users/{user_id}/global_roles",
        "$.role_id",
        "existence",
        "no role has this id",
    ),
    refusal(
        "/admin/users/{user_id}/global_roles",
        "$.role_id",
        "unique",
        "the user has this role already",
    ),
];

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
        users::unlock,
        factors::list,
        factors::create,
        factors::show,
        factors::reset,
        factors::disable,
        factors::enable,
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
