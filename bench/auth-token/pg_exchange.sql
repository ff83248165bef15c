-- The service's code exchange, statement for statement: mithril-store tokens::exchange_code, one
-- statement that checks, redeems and issues. Binds become pgbench expressions; each client walks
-- its own range of codes, so every transaction redeems a fresh one. Token values are generated
-- server-side (pgbench has no client-side random bytes). chr(58) is ':' (pgbench would read
-- "https:" followed by a word as a variable).
\set n :n + 1
\set i :base + :client_id * :stride + :n
WITH chk AS (
     SELECT c.id AS connection_id, c.redirect_uri AS connection_redirect_uri,
            t.id AS token_id, t.user_id AS token_user_id, t.expires_at AS token_expires_at,
            t.details AS token_details, t.used_at AS token_used_at, a.scope AS app_scope
       FROM (SELECT 1) AS one
       LEFT JOIN connections c ON c.client_id = '00000000-0000-7000-8000-0000000000aa'::uuid AND c.secret_hash = sha256(convert_to('bench-secret', 'UTF8'))
       LEFT JOIN tokens t ON t.value_hash = sha256(convert_to('pgcode-' || :i, 'UTF8')) AND t.name = 'authorization_code'
       LEFT JOIN apps a ON a.user_id = t.user_id AND a.client_id = '00000000-0000-7000-8000-0000000000aa'::uuid),
 ok AS (
     SELECT * FROM chk
      WHERE connection_id IS NOT NULL AND token_id IS NOT NULL
        AND token_details ->> 'client_id' = '00000000-0000-7000-8000-0000000000aa'::uuid::text AND token_expires_at > extract(epoch FROM now())::bigint
        AND (strpos(('https' || chr(58) || '//mis.example.com/cb'), chr(10)) = 0 AND strpos(('https' || chr(58) || '//mis.example.com/cb'), chr(13)) = 0 AND left(('https' || chr(58) || '//mis.example.com/cb'), length(rtrim((token_details ->> 'redirect_uri'), '/'))) = rtrim((token_details ->> 'redirect_uri'), '/') AND (length(('https' || chr(58) || '//mis.example.com/cb')) = length(rtrim((token_details ->> 'redirect_uri'), '/')) OR substr(('https' || chr(58) || '//mis.example.com/cb'), length(rtrim((token_details ->> 'redirect_uri'), '/')) + 1, 1) IN ('/', '?')))
        AND (strpos(('https' || chr(58) || '//mis.example.com/cb'), chr(10)) = 0 AND strpos(('https' || chr(58) || '//mis.example.com/cb'), chr(13)) = 0 AND left(('https' || chr(58) || '//mis.example.com/cb'), length(rtrim(connection_redirect_uri, '/'))) = rtrim(connection_redirect_uri, '/') AND (length(('https' || chr(58) || '//mis.example.com/cb')) = length(rtrim(connection_redirect_uri, '/')) OR substr(('https' || chr(58) || '//mis.example.com/cb'), length(rtrim(connection_redirect_uri, '/')) + 1, 1) IN ('/', '?')))
        AND app_scope IS NOT NULL AND token_used_at IS NULL),
 used AS (
     UPDATE tokens SET used_at = now(), updated_at = now()
      WHERE id = (SELECT token_id FROM ok) AND used_at IS NULL
  RETURNING id, user_id),
 ins AS (
     INSERT INTO tokens (id, name, value_hash, expires_at, details, user_id)
     SELECT gen_random_uuid(), 'refresh_token', sha256(convert_to(gen_random_uuid()::text, 'UTF8')),
            extract(epoch FROM now())::bigint + 604800,
            jsonb_build_object('grant_type', 'authorization_code', 'client_id', '00000000-0000-7000-8000-0000000000aa'::uuid::text, 'scope', ''), used.user_id
       FROM used
     UNION ALL
     SELECT gen_random_uuid(), 'access_token', sha256(convert_to(gen_random_uuid()::text, 'UTF8')),
            extract(epoch FROM now())::bigint + 2592000,
            jsonb_build_object('grant_type', 'authorization_code', 'client_id', '00000000-0000-7000-8000-0000000000aa'::uuid::text,
                               'scope', coalesce(ok.token_details ->> 'scope_request', ''),
                               'redirect_uri', ok.token_details ->> 'redirect_uri'),
            used.user_id
       FROM used, ok
  RETURNING id)
 SELECT chk.*, (SELECT count(*) FROM ins) AS inserted FROM chk;
