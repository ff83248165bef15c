//! `/admin/client_types`: CRUD with unique names; the `scope` filter matches any overlap.
super::named_scopes::named_scope_routes!(
    store: client_types, model: ClientType, wrapper: "client_type",
    create: ClientTypeCreate = "client_type_create", update: ClientTypeUpdate = "client_type_update",
    collection: "/admin/client_types", item: "/admin/client_types/{id}", tag: "admin: client types",
    in_use: "Client type is used by clients and cannot be deleted."
);
