-- The service's code exchange, statement for statement (mithril-store tokens::grant_check and
-- tokens::redeem_code), on a fresh code per transaction: each client walks its own range.
-- Token values and hashes are generated server-side (pgbench has no client-side random bytes).
-- chr(58) is ':' — pgbench would read "connection:read" in a literal as a variable.
\set n :n + 1
\set i :base + :client_id * :stride + :n
SELECT c.id AS connection_id, c.redirect_uri AS connection_redirect_uri,
       t.id AS token_id, t.user_id AS token_user_id, t.expires_at AS token_expires_at,
       t.details AS token_details, t.used_at AS token_used_at, a.scope AS app_scope
  FROM (SELECT 1) AS one
  LEFT JOIN connections c ON c.client_id = '00000000-0000-7000-8000-0000000000aa' AND c.secret_hash = sha256(convert_to('bench-secret', 'UTF8'))
  LEFT JOIN tokens t ON t.value_hash = sha256(convert_to('pgcode-' || :i, 'UTF8')) AND t.name = 'authorization_code'
  LEFT JOIN apps a ON a.user_id = t.user_id AND a.client_id = '00000000-0000-7000-8000-0000000000aa';
WITH used AS (
     UPDATE tokens SET used_at = now(), updated_at = now()
      WHERE value_hash = sha256(convert_to('pgcode-' || :i, 'UTF8')) AND used_at IS NULL
  RETURNING id)
INSERT INTO tokens (id, name, value_hash, expires_at, details, user_id)
SELECT v.id, v.name, v.value_hash, v.expires_at, v.details, v.user_id
  FROM used, (VALUES
    (gen_random_uuid(), 'refresh_token', sha256(convert_to(gen_random_uuid()::text, 'UTF8')), extract(epoch FROM now())::bigint + 604800,
     '{"grant_type":"authorization_code","client_id":"00000000-0000-7000-8000-0000000000aa","scope":""}'::jsonb, '00000000-0000-7000-8000-000000000001'::uuid),
    (gen_random_uuid(), 'access_token', sha256(convert_to(gen_random_uuid()::text, 'UTF8')), extract(epoch FROM now())::bigint + 2592000,
     jsonb_build_object('grant_type', 'authorization_code', 'client_id', '00000000-0000-7000-8000-0000000000aa',
                        'scope', 'connection' || chr(58) || 'read', 'redirect_uri', 'https' || chr(58) || '//mis.example.com/cb'),
     '00000000-0000-7000-8000-000000000001'::uuid))
  AS v(id, name, value_hash, expires_at, details, user_id);
