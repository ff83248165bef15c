DROP TRIGGER connections_revoked_by_delete ON connections;
DROP TRIGGER connections_revoked_by_update ON connections;
DROP TRIGGER clients_revoked_by_delete ON clients;
DROP TRIGGER clients_revoked_by_update ON clients;
DROP TRIGGER apps_revoked_by_delete ON apps;
DROP TRIGGER users_revoked_by_delete ON users;
DROP TRIGGER users_revoked_by_update ON users;
DROP TRIGGER tokens_revoked_by_delete ON tokens;
DROP TRIGGER tokens_revoked_by_update ON tokens;
DROP FUNCTION row_revoked(), tokens_revoked_by_delete(), tokens_revoked_by_update(),
    revocation_announce_tokens(bytea[], uuid[]), revocation_announce(text, text[]);
