-- The `prm` database of employee-roles: the reference data it checks against (legal entities,
-- employees, healthcare services: upserted by the registry through /admin), the roles, and an
-- audit log written in the same transaction as every change.

CREATE TABLE legal_entities (
  id          uuid PRIMARY KEY,                 -- = the OAuth client_id
  type        text NOT NULL,
  status      text NOT NULL CHECK (status IN ('ACTIVE', 'SUSPENDED', 'CLOSED', 'REORGANIZED')),
  is_active   boolean NOT NULL DEFAULT true,
  inserted_at timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE employees (
  id              uuid PRIMARY KEY,
  legal_entity_id uuid NOT NULL REFERENCES legal_entities (id),
  party_id        uuid NOT NULL,
  employee_type   text NOT NULL,
  status          text NOT NULL,
  is_active       boolean NOT NULL DEFAULT false,
  -- The speciality object with speciality_officio = true (its `speciality` is a SPECIALITY_TYPE).
  speciality      jsonb,
  inserted_at     timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX employees_legal_entity_id ON employees (legal_entity_id);

CREATE TABLE healthcare_services (
  id              uuid PRIMARY KEY,
  legal_entity_id uuid NOT NULL REFERENCES legal_entities (id),
  division_id     uuid NOT NULL,
  speciality_type text,
  category        text NOT NULL,
  status          text NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE')),
  is_active       boolean NOT NULL DEFAULT true,
  inserted_at     timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX healthcare_services_legal_entity_id ON healthcare_services (legal_entity_id);

CREATE TABLE employee_roles (
  id                    uuid PRIMARY KEY,
  healthcare_service_id uuid NOT NULL REFERENCES healthcare_services (id),
  employee_id           uuid NOT NULL REFERENCES employees (id),
  -- The employee's (and the service's) legal entity, copied at create so that scoping a role to
  -- the caller needs no join. Never exposed.
  legal_entity_id       uuid NOT NULL REFERENCES legal_entities (id),
  start_date            timestamptz NOT NULL,
  end_date              timestamptz,
  status                text NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE')),
  is_active             boolean NOT NULL DEFAULT true,
  inserted_at           timestamptz NOT NULL,
  inserted_by           uuid NOT NULL,
  updated_at            timestamptz NOT NULL,
  updated_by            uuid NOT NULL
);
-- At most one ACTIVE role per employee and service (spec §1.1 #8); history rows do not block.
CREATE UNIQUE INDEX employee_roles_active_pair
  ON employee_roles (employee_id, healthcare_service_id) WHERE status = 'ACTIVE';
CREATE INDEX employee_roles_le_employee ON employee_roles (legal_entity_id, employee_id);
CREATE INDEX employee_roles_le_service ON employee_roles (legal_entity_id, healthcare_service_id);

CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  actor_id    uuid NOT NULL,
  table_name  text NOT NULL,
  record_id   uuid NOT NULL,
  action      text NOT NULL CHECK (action IN ('INSERT', 'UPDATE')),
  changes     jsonb NOT NULL,
  inserted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_record ON audit_log (table_name, record_id);
