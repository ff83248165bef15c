-- Standard OAuth 2 beside the eHealth API (auth-token's /oauth/authorize, /oauth/token,
-- /oauth/introspect, /oauth/revoke).
--
-- A public connection (a native or browser app that cannot keep a secret) has no secret: its
-- codes are redeemed with PKCE instead. A confidential one keeps its secret, as before.
ALTER TABLE connections ADD COLUMN is_public boolean NOT NULL DEFAULT false;
ALTER TABLE connections ALTER COLUMN secret_hash DROP NOT NULL;
ALTER TABLE connections ADD CONSTRAINT connections_secret_unless_public
    CHECK (is_public = (secret_hash IS NULL));

-- A sign-in started at /oauth/authorize: its redirect URI matched exactly, its PKCE challenge
-- (S256; the base64url SHA-256 of the client's verifier) carried to the code it ends in.
ALTER TABLE sign_ins ADD COLUMN standard boolean NOT NULL DEFAULT false;
ALTER TABLE sign_ins ADD COLUMN code_challenge text
    CHECK (code_challenge ~ '^[A-Za-z0-9_-]{43}$');

-- Tokens of one grant (the code and everything issued from it, through every rotation of its
-- refresh token) share `details ->> 'family'`: a reused code or refresh token ends them all.
CREATE INDEX tokens_family_idx ON tokens ((details ->> 'family')) WHERE details ? 'family';
