-- Events move from one row each to chunks of a write batch (see
-- store/sqlite/chunk.go); migration 5 (Go, events.go) moves the rows of
-- the events table into chunks and drops it.

-- +goose Up
CREATE TABLE event_chunks (
    id               INTEGER PRIMARY KEY,
    -- over the chunk's live events (Unix µs)
    min_received     INTEGER NOT NULL,
    max_received     INTEGER NOT NULL,
    min_raw_received INTEGER, -- NULL when no live event has a raw record
    events           INTEGER NOT NULL, -- live events
    -- keys of ids not merged into event_index yet (store/sqlite/staging.go);
    -- NULL once merged
    keys             BLOB,
    data             BLOB NOT NULL
);
CREATE INDEX event_chunks_received ON event_chunks (min_received);
CREATE INDEX event_chunks_raw ON event_chunks (min_raw_received);
CREATE INDEX event_chunks_staged ON event_chunks (id) WHERE keys IS NOT NULL;

-- key: 64 bits of FNV-1a of the event id; loc: chunk id << 16 | position.
-- Written in key order, in merges of many chunks' keys.
CREATE TABLE event_index (
    key INTEGER PRIMARY KEY,
    loc INTEGER NOT NULL
);

-- Ids whose key another stored id holds in event_index.
CREATE TABLE event_index_extra (
    id  TEXT PRIMARY KEY,
    key INTEGER NOT NULL,
    loc INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE event_index_extra;
DROP TABLE event_index;
DROP TABLE event_chunks;
