-- Failed logins are counted by the e-mail address typed (the SHA-256 of it, lower-cased as
-- citext compares), not by account: an address without an account locks out after the same
-- number of failures as one with an account, so the lockout tells nobody which addresses exist.
-- Rows are no longer removed with their user: the cleanup job removes those past the period.
ALTER TABLE login_failures ADD COLUMN email_key bytea;
UPDATE login_failures f
   SET email_key = sha256(convert_to(lower(u.email::text), 'UTF8'))
  FROM users u
 WHERE u.id = f.user_id;
DELETE FROM login_failures WHERE email_key IS NULL;
ALTER TABLE login_failures ALTER COLUMN email_key SET NOT NULL;
DROP INDEX login_failures_user_id_idx;
ALTER TABLE login_failures DROP COLUMN user_id;
CREATE INDEX login_failures_email_key_idx ON login_failures (email_key, failed_at);
