-- +goose Up
-- Console sessions, so a restart does not log analysts out. id_hash is the
-- SHA-256 of the session id (the cookie value is never stored).
CREATE TABLE sessions (
    id_hash    text PRIMARY KEY,
    token_hash text NOT NULL,
    csrf       text NOT NULL,
    created    timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL
);
CREATE INDEX sessions_last_seen ON sessions (last_seen);

-- +goose Down
DROP TABLE sessions;
