-- Rampart schema, PostgreSQL dialect. Keep in step with store/sqlite/migrations.
-- Event fields are json, not jsonb: jsonb rejects \u0000, which log text may hold.

-- +goose Up
CREATE TABLE events (
    id       text PRIMARY KEY,
    time     timestamptz NOT NULL,
    received timestamptz NOT NULL,
    source   text NOT NULL,
    format   text NOT NULL,
    fields   json NOT NULL, -- store.EncodeFields
    raw      bytea NOT NULL
);
CREATE INDEX events_received ON events (received);

CREATE TABLE alerts (
    id             text PRIMARY KEY,
    detector       text NOT NULL,
    layer          text NOT NULL,
    rule_id        text NOT NULL,
    rule_version   text NOT NULL,
    title          text NOT NULL,
    level          text NOT NULL,
    level_rank     integer NOT NULL,
    score          double precision NOT NULL,
    tags           jsonb NOT NULL,
    techniques     jsonb NOT NULL,
    entities       jsonb NOT NULL,
    entity_key     text NOT NULL,
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,
    count          bigint NOT NULL,
    event_ids      jsonb NOT NULL,
    explanation    text NOT NULL,
    details        json NOT NULL,
    status         text NOT NULL,
    created        timestamptz NOT NULL,
    -- the current verdict; every verdict is kept in verdicts
    verdict_kind   text,
    verdict_reason text,
    verdict_author text,
    verdict_time   timestamptz
);
CREATE INDEX alerts_last_seen ON alerts (last_seen DESC, id DESC);
CREATE INDEX alerts_rule ON alerts (rule_id, last_seen DESC);
CREATE INDEX alerts_detector ON alerts (detector, last_seen DESC);
CREATE INDEX alerts_status ON alerts (status, last_seen DESC);

-- alert_signals makes folding idempotent: a signal id is folded in once.
CREATE TABLE alert_signals (
    alert_id  text NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    signal_id text NOT NULL,
    PRIMARY KEY (alert_id, signal_id)
);

-- alert_events indexes the evidence ids (also in alerts.event_ids, in order).
CREATE TABLE alert_events (
    alert_id text NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    event_id text NOT NULL,
    PRIMARY KEY (alert_id, event_id)
);
CREATE INDEX alert_events_event ON alert_events (event_id);

CREATE TABLE alert_entities (
    alert_id text NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    kind     text NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (alert_id, kind, value)
);
CREATE INDEX alert_entities_value ON alert_entities (value, alert_id);

CREATE TABLE verdicts (
    id       bigserial PRIMARY KEY,
    alert_id text NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    kind     text NOT NULL,
    reason   text NOT NULL,
    author   text NOT NULL,
    time     timestamptz NOT NULL
);
CREATE INDEX verdicts_alert ON verdicts (alert_id, id);

CREATE TABLE quarantine (
    id       bigserial PRIMARY KEY,
    time     timestamptz NOT NULL,
    source   text NOT NULL,
    position text NOT NULL,
    reason   text NOT NULL,
    raw      bytea NOT NULL
);
CREATE INDEX quarantine_time ON quarantine (time DESC, id DESC);
CREATE INDEX quarantine_reason ON quarantine (reason, time DESC, id DESC);

CREATE TABLE offsets (
    key         text PRIMARY KEY,
    file_id     text NOT NULL,
    byte_offset bigint NOT NULL
);

CREATE TABLE tokens (
    id      text PRIMARY KEY,
    name    text NOT NULL UNIQUE,
    role    text NOT NULL,
    hash    text NOT NULL UNIQUE,
    created timestamptz NOT NULL
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
