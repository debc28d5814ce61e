-- Rampart schema, SQLite dialect. Times are Unix microseconds (UTC);
-- lists and maps are JSON text. Keep in step with store/postgres/migrations.

-- +goose Up
CREATE TABLE events (
    id       TEXT PRIMARY KEY,
    time     INTEGER NOT NULL,
    received INTEGER NOT NULL,
    source   TEXT NOT NULL,
    format   TEXT NOT NULL,
    fields   TEXT NOT NULL, -- store.EncodeFields
    raw      BLOB NOT NULL
);
CREATE INDEX events_received ON events (received);

CREATE TABLE alerts (
    id             TEXT PRIMARY KEY,
    detector       TEXT NOT NULL,
    layer          TEXT NOT NULL,
    rule_id        TEXT NOT NULL,
    rule_version   TEXT NOT NULL,
    title          TEXT NOT NULL,
    level          TEXT NOT NULL,
    level_rank     INTEGER NOT NULL,
    score          REAL NOT NULL,
    tags           TEXT NOT NULL,
    techniques     TEXT NOT NULL,
    entities       TEXT NOT NULL,
    entity_key     TEXT NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    count          INTEGER NOT NULL,
    event_ids      TEXT NOT NULL,
    explanation    TEXT NOT NULL,
    details        TEXT NOT NULL,
    status         TEXT NOT NULL,
    created        INTEGER NOT NULL,
    -- the current verdict; every verdict is kept in verdicts
    verdict_kind   TEXT,
    verdict_reason TEXT,
    verdict_author TEXT,
    verdict_time   INTEGER
);
CREATE INDEX alerts_last_seen ON alerts (last_seen DESC, id DESC);
CREATE INDEX alerts_rule ON alerts (rule_id, last_seen DESC);
CREATE INDEX alerts_detector ON alerts (detector, last_seen DESC);
CREATE INDEX alerts_status ON alerts (status, last_seen DESC);

-- alert_signals makes folding idempotent: a signal id is folded in once.
CREATE TABLE alert_signals (
    alert_id  TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    signal_id TEXT NOT NULL,
    PRIMARY KEY (alert_id, signal_id)
) WITHOUT ROWID;

-- alert_events indexes the evidence ids (also in alerts.event_ids, in order).
CREATE TABLE alert_events (
    alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    PRIMARY KEY (alert_id, event_id)
) WITHOUT ROWID;
CREATE INDEX alert_events_event ON alert_events (event_id);

CREATE TABLE alert_entities (
    alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (alert_id, kind, value)
) WITHOUT ROWID;
CREATE INDEX alert_entities_value ON alert_entities (value, alert_id);

CREATE TABLE verdicts (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,
    reason   TEXT NOT NULL,
    author   TEXT NOT NULL,
    time     INTEGER NOT NULL
);
CREATE INDEX verdicts_alert ON verdicts (alert_id, id);

CREATE TABLE quarantine (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    time     INTEGER NOT NULL,
    source   TEXT NOT NULL,
    position TEXT NOT NULL,
    reason   TEXT NOT NULL,
    raw      BLOB NOT NULL
);
CREATE INDEX quarantine_time ON quarantine (time DESC, id DESC);
CREATE INDEX quarantine_reason ON quarantine (reason, time DESC, id DESC);

CREATE TABLE offsets (
    key         TEXT PRIMARY KEY,
    file_id     TEXT NOT NULL,
    byte_offset INTEGER NOT NULL
);

CREATE TABLE tokens (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    role    TEXT NOT NULL,
    hash    TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);

-- +goose Down
DROP TABLE tokens;
DROP TABLE offsets;
DROP TABLE quarantine;
DROP TABLE verdicts;
DROP TABLE alert_entities;
DROP TABLE alert_events;
DROP TABLE alert_signals;
DROP TABLE alerts;
DROP TABLE events;
