-- Benchmark data on a migrated `mithril` database. psql variables: ncodes (codes per range,
-- per range name), ntokens. Code values are '<prefix>-<n>' so both load tools can derive them;
-- only their SHA-256 is stored, as the service stores them.
\set ON_ERROR_STOP 1
INSERT INTO users (id, email, password) VALUES ('00000000-0000-7000-8000-000000000001', 'bench@example.com', '!');
INSERT INTO clients (id, name, user_id, client_type_id, priv_settings, settings)
SELECT '00000000-0000-7000-8000-0000000000aa', 'Bench MSP', '00000000-0000-7000-8000-000000000001', id,
       '{"access_type":"BROKER"}', '{"allowed_grant_types":["password"]}' FROM client_types WHERE name = 'MSP';
INSERT INTO clients (id, name, user_id, client_type_id, priv_settings, settings)
SELECT '00000000-0000-7000-8000-0000000000bb', 'Bench MIS', '00000000-0000-7000-8000-000000000001', id,
       '{"access_type":"DIRECT","broker_scope":"connection:read"}', '{}' FROM client_types WHERE name = 'MIS';
INSERT INTO connections (id, client_id, consumer_id, secret_hash, redirect_uri) VALUES
  ('00000000-0000-7000-8000-0000000000c1', '00000000-0000-7000-8000-0000000000aa', '00000000-0000-7000-8000-0000000000bb',
   sha256(convert_to('bench-secret', 'UTF8')), 'https://mis.example.com/cb');
INSERT INTO apps (id, user_id, client_id, scope) VALUES
  ('00000000-0000-7000-8000-0000000000d1', '00000000-0000-7000-8000-000000000001', '00000000-0000-7000-8000-0000000000aa',
   'connection:read connection:write');

-- Codes for the HTTP runs ('code-N') and for pgbench ('pgcode-N').
INSERT INTO tokens (id, name, value_hash, expires_at, details, user_id)
SELECT gen_random_uuid(), 'authorization_code', sha256(convert_to(p.prefix || '-' || n, 'UTF8')),
       extract(epoch FROM now() + interval '1 day')::bigint,
       '{"client_id":"00000000-0000-7000-8000-0000000000aa","grant_type":"password","redirect_uri":"https://mis.example.com/cb","scope_request":"connection:read"}',
       '00000000-0000-7000-8000-000000000001'
  FROM (VALUES ('code'), ('pgcode')) AS p(prefix), generate_series(1, :ncodes) AS n;

-- Access tokens of the DIRECT client for verify ('tok-N').
INSERT INTO tokens (id, name, value_hash, expires_at, details, user_id)
SELECT gen_random_uuid(), 'access_token', sha256(convert_to('tok-' || n, 'UTF8')),
       extract(epoch FROM now() + interval '1 day')::bigint,
       '{"client_id":"00000000-0000-7000-8000-0000000000bb","grant_type":"authorization_code","scope":"connection:read","redirect_uri":"https://mis.example.com/cb"}',
       '00000000-0000-7000-8000-000000000001'
  FROM generate_series(1, :ntokens) AS n;
VACUUM ANALYZE;
