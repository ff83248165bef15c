-- Password history (a new password may not repeat the last 3) and failed logins (lockout after
-- 10 in 10 minutes). The reference keeps failures in users.priv_settings; a table keeps the
-- count exact under concurrent logins.
CREATE TABLE password_hstr (
    id          bigserial PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password    text NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_hstr_user_id_idx ON password_hstr (user_id, inserted_at DESC);

CREATE TABLE login_failures (
    id        bigserial PRIMARY KEY,
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_user_id_idx ON login_failures (user_id, failed_at);

-- The reference's system user (migration 20180206151913); it cannot log in.
INSERT INTO users (id, email, password)
VALUES ('4261eacf-8008-4e62-899f-de1e2f7065f0', 'bot@ehealth-ukraine.org', '!')
ON CONFLICT DO NOTHING;
