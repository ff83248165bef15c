-- The service's verify lookup (mithril-store tokens::verify_row): one indexed SELECT with the
-- client and user joined, by the SHA-256 of a random token.
\set i random(1, :ntokens)
SELECT t.id, t.name, t.expires_at, t.details, t.user_id,
       cl.id AS client_id, cl.is_blocked AS client_blocked,
       cl.priv_settings ->> 'access_type' AS access_type, u.is_blocked AS user_blocked
  FROM tokens t
  LEFT JOIN clients cl ON cl.id = CASE WHEN t.details ->> 'client_id' ~ '^[0-9a-fA-F-]{36}$'
                                      THEN (t.details ->> 'client_id')::uuid END
  LEFT JOIN users u ON u.id = t.user_id
 WHERE t.value_hash = sha256(convert_to('tok-' || :i, 'UTF8'));
