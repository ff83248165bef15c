DROP INDEX tokens_family_idx;
ALTER TABLE sign_ins DROP COLUMN code_challenge;
ALTER TABLE sign_ins DROP COLUMN standard;
DELETE FROM connections WHERE is_public;
ALTER TABLE connections DROP CONSTRAINT connections_secret_unless_public;
ALTER TABLE connections ALTER COLUMN secret_hash SET NOT NULL;
ALTER TABLE connections DROP COLUMN is_public;
