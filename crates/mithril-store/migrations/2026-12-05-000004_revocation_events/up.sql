-- Revocation events (ARCHITECTURE.md, "Revocation"). Every change that ends or narrows what a
-- cached verify answer says is announced on the channel `ehealth_revocations`, by triggers, so
-- that no code path (today's or a later one) can forget it and the event is sent exactly when
-- the change commits (NOTIFY is transactional: a rolled-back change announces nothing).
--
-- The payload is JSON naming what to drop, never a token value:
--   {"tokens": ["<hex SHA-256 of the value>", …]}   tokens that stopped being live
--   {"users": ["<uuid>", …]}                          every answer for these users
--   {"clients": ["<uuid>", …]}                        every answer for/through these clients
--   {"all": true}                                     too many to name (payloads stay < 8000 bytes)
CREATE FUNCTION revocation_announce(kind text, ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(cardinality(ids), 0) = 0 THEN
        RETURN;
    ELSIF cardinality(ids) > 100 THEN
        PERFORM pg_notify('ehealth_revocations', '{"all":true}');
    ELSE
        PERFORM pg_notify('ehealth_revocations', json_build_object(kind, ids)::text);
    END IF;
END $$;

-- Tokens that were live and are not any more (or live shorter): named by hash, or by user when
-- there are many (a user's logout everywhere, a client's block).
CREATE FUNCTION revocation_announce_tokens(hashes bytea[], users uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(cardinality(hashes), 0) <= 100 THEN
        PERFORM revocation_announce('tokens',
            ARRAY(SELECT encode(h, 'hex') FROM unnest(hashes) h));
    ELSE
        PERFORM revocation_announce('users', ARRAY(SELECT DISTINCT u::text FROM unnest(users) u));
    END IF;
END $$;

CREATE FUNCTION tokens_revoked_by_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    hashes bytea[];
    users uuid[];
BEGIN
    SELECT array_agg(o.value_hash), array_agg(o.user_id) INTO hashes, users
      FROM old_rows o JOIN new_rows n USING (id)
     WHERE n.expires_at < o.expires_at AND o.expires_at > extract(epoch FROM now());
    PERFORM revocation_announce_tokens(hashes, users);
    RETURN NULL;
END $$;

CREATE FUNCTION tokens_revoked_by_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    hashes bytea[];
    users uuid[];
BEGIN
    -- The cleanup job deletes only expired tokens: nothing to announce for them.
    SELECT array_agg(value_hash), array_agg(user_id) INTO hashes, users
      FROM old_rows WHERE expires_at > extract(epoch FROM now());
    PERFORM revocation_announce_tokens(hashes, users);
    RETURN NULL;
END $$;

CREATE TRIGGER tokens_revoked_by_update AFTER UPDATE ON tokens
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tokens_revoked_by_update();
CREATE TRIGGER tokens_revoked_by_delete AFTER DELETE ON tokens
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tokens_revoked_by_delete();

-- One row's change names what it revokes: the kind (`users` or `clients`) and the column of the
-- row that holds its id are the trigger's arguments.
CREATE FUNCTION row_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM revocation_announce(TG_ARGV[0], ARRAY[to_jsonb(OLD) ->> TG_ARGV[1]]);
    RETURN NULL;
END $$;

-- A user blocked, given a new password or deleted; an approval (user and client) withdrawn.
CREATE TRIGGER users_revoked_by_update AFTER UPDATE ON users FOR EACH ROW
    WHEN ((NEW.is_blocked AND NOT OLD.is_blocked) OR NEW.password IS DISTINCT FROM OLD.password)
    EXECUTE FUNCTION row_revoked('users', 'id');
CREATE TRIGGER users_revoked_by_delete AFTER DELETE ON users FOR EACH ROW
    EXECUTE FUNCTION row_revoked('users', 'id');
CREATE TRIGGER apps_revoked_by_delete AFTER DELETE ON apps FOR EACH ROW
    EXECUTE FUNCTION row_revoked('users', 'user_id');

-- A client blocked, re-configured (its access type and broker scope are in verify answers) or
-- deleted; a connection's secret (an api-key) replaced or the connection deleted.
CREATE TRIGGER clients_revoked_by_update AFTER UPDATE ON clients FOR EACH ROW
    WHEN ((NEW.is_blocked AND NOT OLD.is_blocked) OR NEW.priv_settings IS DISTINCT FROM OLD.priv_settings)
    EXECUTE FUNCTION row_revoked('clients', 'id');
CREATE TRIGGER clients_revoked_by_delete AFTER DELETE ON clients FOR EACH ROW
    EXECUTE FUNCTION row_revoked('clients', 'id');
CREATE TRIGGER connections_revoked_by_update AFTER UPDATE ON connections FOR EACH ROW
    WHEN (NEW.secret_hash IS DISTINCT FROM OLD.secret_hash)
    EXECUTE FUNCTION row_revoked('clients', 'client_id');
CREATE TRIGGER connections_revoked_by_delete AFTER DELETE ON connections FOR EACH ROW
    EXECUTE FUNCTION row_revoked('clients', 'client_id');
