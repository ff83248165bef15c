-- The `mithril` database: clients, connections, identities, approvals, tokens.
-- Differences from the reference, on purpose:
--   * credentials (connection secrets, token values) are stored only as SHA-256 (`*_hash bytea`);
--   * timestamps are timestamptz; token expiry is a bigint of unix seconds (no 2038 overflow);
--   * authorization codes carry `used_at` so single use is one conditional UPDATE.
CREATE EXTENSION IF NOT EXISTS citext;

CREATE TABLE client_types (
    id          uuid PRIMARY KEY,
    name        varchar(255) NOT NULL,
    scope       varchar(2048) NOT NULL DEFAULT '',
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT client_types_name_key UNIQUE (name)
);

CREATE TABLE roles (
    id          uuid PRIMARY KEY,
    name        varchar(255) NOT NULL,
    scope       varchar(2048) NOT NULL DEFAULT '',
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT roles_name_key UNIQUE (name)
);

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    email           citext NOT NULL,
    password        text NOT NULL,
    settings        jsonb NOT NULL DEFAULT '{}',
    priv_settings   jsonb NOT NULL DEFAULT '{}',
    is_blocked      boolean NOT NULL DEFAULT false,
    block_reason    text,
    password_set_at timestamptz NOT NULL DEFAULT now(),
    tax_id          varchar(255) NOT NULL DEFAULT '',
    person_id       varchar(255) NOT NULL DEFAULT '',
    inserted_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email)
);
CREATE INDEX users_password_set_at_id_idx ON users (password_set_at, id);

CREATE TABLE clients (
    id             uuid PRIMARY KEY,
    name           varchar(255) NOT NULL,
    settings       jsonb NOT NULL DEFAULT '{}',
    priv_settings  jsonb NOT NULL DEFAULT '{"access_type":"BROKER"}',
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_type_id uuid NOT NULL REFERENCES client_types (id),
    is_blocked     boolean NOT NULL DEFAULT false,
    block_reason   text,
    inserted_at    timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clients_user_id_idx ON clients (user_id);
CREATE INDEX clients_client_type_id_idx ON clients (client_type_id);

CREATE TABLE connections (
    id           uuid PRIMARY KEY,
    client_id    uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    consumer_id  uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    secret_hash  bytea NOT NULL,
    redirect_uri text NOT NULL,
    inserted_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT connections_client_id_consumer_id_key UNIQUE (client_id, consumer_id),
    CONSTRAINT connections_secret_hash_key UNIQUE (secret_hash),
    CONSTRAINT connections_secret_hash_len CHECK (octet_length(secret_hash) = 32)
);
CREATE INDEX connections_consumer_id_idx ON connections (consumer_id);

CREATE TABLE user_roles (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id     uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    client_id   uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_roles_user_id_role_id_client_id_key UNIQUE (user_id, role_id, client_id)
);
CREATE INDEX user_roles_client_id_idx ON user_roles (client_id);
CREATE INDEX user_roles_role_id_idx ON user_roles (role_id);

CREATE TABLE global_user_roles (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id     uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT global_user_roles_user_id_role_id_key UNIQUE (user_id, role_id)
);
CREATE INDEX global_user_roles_role_id_idx ON global_user_roles (role_id);

-- Approvals: which scopes a user granted a client (aggregated).
CREATE TABLE apps (
    id          uuid PRIMARY KEY,
    scope       varchar(2048) NOT NULL DEFAULT '',
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT apps_user_id_client_id_key UNIQUE (user_id, client_id)
);
CREATE INDEX apps_client_id_idx ON apps (client_id);

-- access_token, refresh_token, authorization_code, ...; the value itself is never stored.
CREATE TABLE tokens (
    id          uuid PRIMARY KEY,
    name        varchar(64) NOT NULL,
    value_hash  bytea NOT NULL,
    expires_at  bigint NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}',
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    used_at     timestamptz,
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tokens_value_hash_key UNIQUE (value_hash),
    CONSTRAINT tokens_value_hash_len CHECK (octet_length(value_hash) = 32)
) WITH (fillfactor = 85);
CREATE INDEX tokens_user_id_expires_at_idx ON tokens (user_id, expires_at);
CREATE INDEX tokens_expires_at_idx ON tokens (expires_at);
CREATE INDEX tokens_client_id_idx ON tokens ((details ->> 'client_id'));
