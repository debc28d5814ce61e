-- +goose Up
-- Chunk ids are never reused. Deleting a corrupt chunk leaves its merged
-- event_index entries behind (their ids are unknown): they must keep
-- pointing at a missing chunk, never into a later chunk given the same id.
CREATE TABLE event_chunk_seq (next INTEGER NOT NULL);
INSERT INTO event_chunk_seq SELECT coalesce(max(id), 0) + 1 FROM event_chunks;

-- +goose Down
DROP TABLE event_chunk_seq;
