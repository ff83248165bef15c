//! `/admin/roles`: CRUD with unique names (the reference's Role controller).
super::named_scopes::named_scope_routes!(
    store: roles, model: Role, wrapper: "role",
    create: RoleCreate = "role_create", update: RoleUpdate = "role_update",
    collection: "/admin/roles", item: "/admin/roles/{id}", tag: "admin: roles",
    in_use: "Role is in use and cannot be deleted."
);
