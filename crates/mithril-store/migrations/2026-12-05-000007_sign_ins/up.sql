-- The browser sign-in (auth-token's /sign-in pages): one row per sign-in in progress, so that
-- any replica serves its next step and a restart loses nothing. The browser holds a random
-- session value (cookie) and each form a random CSRF token; only their SHA-256 are stored.
CREATE TABLE sign_ins (
    id           uuid PRIMARY KEY,
    session_hash bytea NOT NULL UNIQUE,
    csrf_hash    bytea NOT NULL,
    client_id    uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    redirect_uri text NOT NULL,
    scope        text NOT NULL,
    state        text,
    -- Known once the password is right.
    user_id      uuid REFERENCES users (id) ON DELETE CASCADE,
    step         text NOT NULL CHECK (step IN ('password', 'factor', 'otp', 'consent')),
    -- A phone the user is setting for their factor: its code was sent there.
    phone        text,
    expires_at   timestamptz NOT NULL,
    inserted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_ins_expires_at_idx ON sign_ins (expires_at);
