-- The service's get-by-id (store::role): one SELECT by primary key, for a random role.
\set i random(1, :nroles)
SELECT id, healthcare_service_id, employee_id, legal_entity_id, start_date, end_date, status, is_active,
       inserted_at, inserted_by, updated_at, updated_by
  FROM employee_roles WHERE id = ('00000000-0000-4000-8000-' || lpad(to_hex(:i::bigint), 12, '0'))::uuid;
