-- Benchmark data on a migrated `prm` database. psql variable: nroles. One ACTIVE legal entity,
-- 1000 approved employees and 1000 active services; role n has the id
-- 00000000-0000-4000-8000-<n as 12 hex digits> so both load tools can derive it, and pairs
-- employee n % 1000 with service n / 1000 (unique, as the partial index requires).
\set ON_ERROR_STOP 1
INSERT INTO legal_entities (id, type, status, is_active)
VALUES ('00000000-0000-4000-8000-00000000000a', 'PRIMARY_CARE', 'ACTIVE', true);
INSERT INTO employees (id, legal_entity_id, party_id, employee_type, status, is_active, speciality)
SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(n), 12, '0'))::uuid, '00000000-0000-4000-8000-00000000000a',
       gen_random_uuid(), 'DOCTOR', 'APPROVED', true, '{"speciality":"FAMILY_DOCTOR","speciality_officio":true}'
  FROM generate_series(0, 999) AS n;
INSERT INTO healthcare_services (id, legal_entity_id, division_id, speciality_type, category, status, is_active)
SELECT ('00000000-0000-4000-a000-' || lpad(to_hex(n), 12, '0'))::uuid, '00000000-0000-4000-8000-00000000000a',
       gen_random_uuid(), 'FAMILY_DOCTOR', 'MSP', 'ACTIVE', true
  FROM generate_series(0, 999) AS n;
INSERT INTO employee_roles (id, healthcare_service_id, employee_id, legal_entity_id, start_date, status,
                            is_active, inserted_at, inserted_by, updated_at, updated_by)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
       ('00000000-0000-4000-a000-' || lpad(to_hex(n / 1000), 12, '0'))::uuid,
       ('00000000-0000-4000-9000-' || lpad(to_hex(n % 1000), 12, '0'))::uuid,
       '00000000-0000-4000-8000-00000000000a', now(), 'ACTIVE', true, now(),
       '00000000-0000-4000-8000-0000000000ff', now(), '00000000-0000-4000-8000-0000000000ff'
  FROM generate_series(1, :nroles) AS n;
VACUUM ANALYZE;
