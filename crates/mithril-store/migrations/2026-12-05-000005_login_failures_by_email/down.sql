ALTER TABLE login_failures ADD COLUMN user_id uuid REFERENCES users (id) ON DELETE CASCADE;
UPDATE login_failures f
   SET user_id = u.id
  FROM users u
 WHERE f.email_key = sha256(convert_to(lower(u.email::text), 'UTF8'));
DELETE FROM login_failures WHERE user_id IS NULL;
ALTER TABLE login_failures ALTER COLUMN user_id SET NOT NULL;
DROP INDEX login_failures_email_key_idx;
ALTER TABLE login_failures DROP COLUMN email_key;
CREATE INDEX login_failures_user_id_idx ON login_failures (user_id, failed_at);
