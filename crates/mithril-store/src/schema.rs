// Written by hand to match migrations/ (diesel print-schema needs libpq, which we do not link).

diesel::table! {
    client_types (id) {
        id -> Uuid,
        name -> Varchar,
        scope -> Varchar,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    roles (id) {
        id -> Uuid,
        name -> Varchar,
        scope -> Varchar,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        password -> Text,
        settings -> Jsonb,
        priv_settings -> Jsonb,
        is_blocked -> Bool,
        block_reason -> Nullable<Text>,
        password_set_at -> Timestamptz,
        tax_id -> Varchar,
        person_id -> Varchar,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
        otp_error_counter -> Int4,
    }
}

diesel::table! {
    clients (id) {
        id -> Uuid,
        name -> Varchar,
        settings -> Jsonb,
        priv_settings -> Jsonb,
        user_id -> Uuid,
        client_type_id -> Uuid,
        is_blocked -> Bool,
        block_reason -> Nullable<Text>,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    connections (id) {
        id -> Uuid,
        client_id -> Uuid,
        consumer_id -> Uuid,
        secret_hash -> Nullable<Bytea>,
        redirect_uri -> Text,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
        is_public -> Bool,
    }
}

diesel::table! {
    user_roles (id) {
        id -> Uuid,
        user_id -> Uuid,
        role_id -> Uuid,
        client_id -> Uuid,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    global_user_roles (id) {
        id -> Uuid,
        user_id -> Uuid,
        role_id -> Uuid,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    apps (id) {
        id -> Uuid,
        scope -> Varchar,
        user_id -> Uuid,
        client_id -> Uuid,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    tokens (id) {
        id -> Uuid,
        name -> Varchar,
        value_hash -> Bytea,
        expires_at -> Int8,
        details -> Jsonb,
        user_id -> Uuid,
        used_at -> Nullable<Timestamptz>,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(clients -> client_types (client_type_id));
diesel::joinable!(clients -> users (user_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(user_roles -> clients (client_id));
diesel::joinable!(global_user_roles -> roles (role_id));
diesel::joinable!(apps -> clients (client_id));
diesel::joinable!(tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    client_types,
    roles,
    users,
    clients,
    connections,
    user_roles,
    global_user_roles,
    apps,
    tokens,
);

diesel::table! {
    password_hstr (id) {
        id -> Int8,
        user_id -> Uuid,
        password -> Text,
        inserted_at -> Timestamptz,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        email_key -> Bytea,
        failed_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(password_hstr, users);

diesel::table! {
    authentication_factors (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[sql_name = "type"]
        factor_type -> Text,
        factor -> Nullable<Text>,
        is_active -> Bool,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    otps (id) {
        id -> Uuid,
        user_id -> Uuid,
        key -> Text,
        code_hash -> Bytea,
        expires_at -> Timestamptz,
        attempts -> Int4,
        status -> Text,
        inserted_at -> Timestamptz,
    }
}

diesel::table! {
    sign_ins (id) {
        id -> Uuid,
        session_hash -> Bytea,
        csrf_hash -> Bytea,
        client_id -> Uuid,
        redirect_uri -> Text,
        scope -> Text,
        state -> Nullable<Text>,
        user_id -> Nullable<Uuid>,
        step -> Text,
        phone -> Nullable<Text>,
        expires_at -> Timestamptz,
        inserted_at -> Timestamptz,
        standard -> Bool,
        code_challenge -> Nullable<Text>,
    }
}
