-- The service's deactivation, statement for statement (roles::deactivate → store::deactivate_role):
-- the legal entity's status, then one conditional UPDATE (its trigger writes the audit row), both
-- prepared once per connection as the service's are. Each client walks its own range of roles,
-- so every transaction deactivates an ACTIVE one.
\set n :n + 1
\set i :base + :client_id * :stride + :n
SELECT status FROM legal_entities WHERE id = '00000000-0000-4000-8000-00000000000a' LIMIT 1;
UPDATE employee_roles
   SET end_date = now(), status = 'INACTIVE', updated_at = now(),
       updated_by = '00000000-0000-4000-8000-0000000000ee'
 WHERE id = ('00000000-0000-4000-8000-' || lpad(to_hex(:i::bigint), 12, '0'))::uuid
   AND legal_entity_id = '00000000-0000-4000-8000-00000000000a' AND is_active AND status = 'ACTIVE'
RETURNING id, healthcare_service_id, employee_id, legal_entity_id, start_date, end_date, status, is_active,
          inserted_at, inserted_by, updated_at, updated_by;
