crate::named_scopes::named_scope_queries!(client_types, ClientType, "client_types_name_key");
