// Hand-written to match migrations/ (the diesel CLI needs libpq, which the build does not).

diesel::table! {
    legal_entities (id) {
        id -> Uuid,
        #[sql_name = "type"]
        kind -> Text,
        status -> Text,
        is_active -> Bool,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    parties (id) {
        id -> Uuid,
        verification_status -> Text,
        updated_at -> Timestamptz,
        synced_at -> Timestamptz,
    }
}

diesel::table! {
    party_users (user_id) {
        user_id -> Uuid,
        party_id -> Uuid,
    }
}

diesel::joinable!(party_users -> parties (party_id));

diesel::table! {
    employees (id) {
        id -> Uuid,
        legal_entity_id -> Uuid,
        party_id -> Uuid,
        employee_type -> Text,
        status -> Text,
        is_active -> Bool,
        speciality -> Nullable<Jsonb>,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    healthcare_services (id) {
        id -> Uuid,
        legal_entity_id -> Uuid,
        division_id -> Uuid,
        speciality_type -> Nullable<Text>,
        category -> Text,
        status -> Text,
        is_active -> Bool,
        inserted_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    employee_roles (id) {
        id -> Uuid,
        healthcare_service_id -> Uuid,
        employee_id -> Uuid,
        legal_entity_id -> Uuid,
        start_date -> Timestamptz,
        end_date -> Nullable<Timestamptz>,
        status -> Text,
        is_active -> Bool,
        inserted_at -> Timestamptz,
        inserted_by -> Uuid,
        updated_at -> Timestamptz,
        updated_by -> Uuid,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        actor_id -> Uuid,
        table_name -> Text,
        record_id -> Uuid,
        action -> Text,
        changes -> Jsonb,
        inserted_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    legal_entities,
    employees,
    healthcare_services,
    employee_roles,
    audit_log,
    parties,
    party_users,
);
