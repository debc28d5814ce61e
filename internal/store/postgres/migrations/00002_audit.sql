-- Audit chain (package audit). Times are Unix microseconds (UTC); versions
-- is the JSON object written by the store. Rows are hashed by content, so
-- a changed row is detected by audit.Verify, not by the schema.
-- Keep in step with store/sqlite/migrations/00002_audit.sql.

-- +goose Up
CREATE TABLE audit_records (
    seq          BIGINT PRIMARY KEY,
    time         BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    input_digest TEXT NOT NULL,
    versions     TEXT NOT NULL,
    explanation  TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_records_time ON audit_records (time);

CREATE TABLE audit_checkpoints (
    seq       BIGINT NOT NULL,
    key_id    TEXT NOT NULL,
    hash      TEXT NOT NULL,
    time      BIGINT NOT NULL,
    signature BYTEA NOT NULL,
    PRIMARY KEY (seq, key_id)
);

-- +goose Down
DROP TABLE audit_checkpoints;
DROP TABLE audit_records;
