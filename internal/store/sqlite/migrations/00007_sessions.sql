-- +goose Up
-- Console sessions, so a restart does not log analysts out. id_hash is the
-- SHA-256 of the session id (the cookie value is never stored).
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created    INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_last_seen ON sessions (last_seen);

-- +goose Down
DROP TABLE sessions;
