-- Two-factor login (spec §2 `authentication_factors`, `otp`; §3.5, §3.6). Differences from the
-- reference: an OTP is stored only as SHA-256 of its id and code (the code itself is never
-- stored, and no endpoint lists OTPs), is single-use (its status leaves NEW on success), and
-- carries its user so that sends can be throttled per user.
CREATE TABLE authentication_factors (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type        text NOT NULL CHECK (type = 'SMS'),
    factor      text,
    is_active   boolean NOT NULL DEFAULT true,
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, type)
);

CREATE TABLE otps (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- `<2FA token id>===<phone>`, as the reference keys them.
    key         text NOT NULL,
    code_hash   bytea NOT NULL,
    expires_at  timestamptz NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    status      text NOT NULL DEFAULT 'NEW'
                CHECK (status IN ('NEW', 'VERIFIED', 'UNVERIFIED', 'CANCELED', 'EXPIRED')),
    inserted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX otps_key_idx ON otps (key, inserted_at DESC);
CREATE INDEX otps_user_id_idx ON otps (user_id, inserted_at);

-- Consecutive wrong OTPs (the reference keeps them in priv_settings.otp_error_counter).
ALTER TABLE users ADD COLUMN otp_error_counter integer NOT NULL DEFAULT 0;
