-- Parties (persons) of the registry and the OAuth users that act for them: the create gate
-- BLOCK_UNVERIFIED_PARTY_USERS (spec employee_roles.md §1.1 #3) reads a user's party's
-- verification status. updated_at is the registry's, not the sync time: the gate measures how
-- long a party has been NOT_VERIFIED.
CREATE TABLE parties (
    id uuid PRIMARY KEY,
    verification_status text NOT NULL,
    updated_at timestamptz NOT NULL,
    synced_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE party_users (
    user_id uuid PRIMARY KEY,
    party_id uuid NOT NULL REFERENCES parties (id) ON DELETE CASCADE
);

CREATE INDEX party_users_party_id ON party_users (party_id);
