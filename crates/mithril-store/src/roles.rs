crate::named_scopes::named_scope_queries!(roles, Role, "roles_name_key");
