-- Suppressions (package suppress): scoped, expiring rules that hide
-- matching signals. Times are Unix microseconds (UTC); entities is a JSON
-- list of {"kind","value"}. Hits are added from the serve process's
-- in-memory counts at intervals, never per signal.
-- Keep in step with store/postgres/migrations/00003_suppressions.sql.

-- +goose Up
CREATE TABLE suppressions (
    id             TEXT PRIMARY KEY,
    detector       TEXT NOT NULL,
    rule_id        TEXT NOT NULL,
    entities       TEXT NOT NULL,
    reason         TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created        INTEGER NOT NULL,
    expires        INTEGER NOT NULL,
    origin_alert   TEXT NOT NULL,
    origin_verdict TEXT NOT NULL,
    hits           INTEGER NOT NULL DEFAULT 0,
    last_hit       INTEGER NOT NULL DEFAULT 0,
    last_event_id  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX suppressions_expires ON suppressions (expires);

-- +goose Down
DROP TABLE suppressions;
