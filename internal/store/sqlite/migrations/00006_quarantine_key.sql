-- +goose Up
-- rec_key is store.QuarantineKey: a record re-read after a crash is
-- quarantined once. Rows from before stay keyless (NULL), as do records
-- without a position.
ALTER TABLE quarantine ADD COLUMN rec_key TEXT;
CREATE UNIQUE INDEX quarantine_rec_key ON quarantine (rec_key) WHERE rec_key IS NOT NULL;

-- +goose Down
DROP INDEX quarantine_rec_key;
ALTER TABLE quarantine DROP COLUMN rec_key;
