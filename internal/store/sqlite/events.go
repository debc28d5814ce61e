package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/store"
)

// Events live in event_chunks (chunk.go); event_index maps each id's key
// (idKey) to its location (loc), and event_index_extra holds the few ids
// whose key another stored id already holds. The index is what makes a
// record read twice store once: inserting a key that exists means the id
// is either stored (ignored) or a key collision (kept in the extra table).
const (
	qInsertIndex = `INSERT INTO event_index (key, loc) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qInsertChunk = `INSERT INTO event_chunks (id, min_received, max_received, min_raw_received, events, data)
	VALUES (?, ?, ?, ?, ?, ?)`
)

// MaxGetEvents bounds the ids one GetEvents call may ask for.
const MaxGetEvents = 10000

// idChunk keeps IN lists well under SQLite's bound-parameter limit.
const idChunk = 500

// purgeChunks bounds the chunks one purge transaction rewrites or deletes.
const purgeChunks = 8

// AppendEvents stores evs in one transaction; ids already stored are ignored.
// A malformed event (no id, a field of an unsupported type) fails the batch.
func (s *Store) AppendEvents(ctx context.Context, evs []*event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	// Encode and compress before taking the write lock: it is the CPU-heavy
	// part. A batch with duplicate ids is encoded again under the lock.
	es, err := entries(evs)
	if err != nil {
		return fmt.Errorf("appending events: %w", err)
	}
	parts := split(es)
	blobs := make([][]byte, len(parts))
	for i, p := range parts {
		blobs[i] = encodeChunk(p)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		return appendChunks(ctx, tx, s.stmt(ctx, tx, qInsertIndex), s.stmt(ctx, tx, qInsertChunk), parts, blobs, s.log)
	})
	if err != nil {
		return fmt.Errorf("appending %d events: %w", len(evs), err)
	}
	return nil
}

// entries validates evs and encodes their fields into one buffer.
func entries(evs []*event.Event) ([]entry, error) {
	size := 0
	for _, ev := range evs {
		if ev != nil {
			size += 64 * len(ev.Fields)
		}
	}
	buf := make([]byte, 0, size)
	es := make([]entry, len(evs))
	for i, ev := range evs {
		if ev == nil || ev.ID == "" {
			return nil, fmt.Errorf("%w: event %d has no id", store.ErrInvalid, i)
		}
		start := len(buf)
		var err error
		if buf, err = store.AppendFields(buf, ev.Fields); err != nil {
			return nil, fmt.Errorf("%w: event %s: %w", store.ErrInvalid, ev.ID, err)
		}
		es[i] = entry{id: ev.ID, time: micros(ev.Time), received: micros(ev.Received),
			source: ev.Source, format: ev.Format, fields: buf[start:len(buf):len(buf)], raw: ev.Raw}
	}
	return es, nil
}

// split cuts es into chunk-sized parts.
func split(es []entry) [][]entry {
	var parts [][]entry
	for start := 0; start < len(es); start += chunkMaxEvents {
		parts = append(parts, es[start:min(start+chunkMaxEvents, len(es))])
	}
	return parts
}

// appendChunks indexes and stores each part as one chunk, leaving out ids
// already stored (or repeated within the batch). blobs[i], when not nil, is
// parts[i] encoded: used when no id was left out.
func appendChunks(ctx context.Context, tx *sql.Tx, ins, insChunk *sql.Stmt, parts [][]entry, blobs [][]byte, log *slog.Logger) error {
	var next int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM event_chunks`).Scan(&next); err != nil {
		return err
	}
	cache := newChunkCache(tx)
	for i, es := range parts {
		kept := make([]entry, 0, len(es))
		for _, e := range es {
			key := keyOf(e.id)
			l := loc(next, len(kept))
			res, err := ins.ExecContext(ctx, key, l)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				dup, err := resolveConflict(ctx, tx, cache, key, e.id, l, next, kept, log)
				if err != nil {
					return err
				}
				if dup {
					continue
				}
			}
			kept = append(kept, e)
		}
		if len(kept) == 0 {
			continue
		}
		blob := blobs[i]
		if blob == nil || len(kept) != len(es) {
			blob = encodeChunk(kept)
		}
		b := boundsOf(kept)
		if _, err := insChunk.ExecContext(ctx, next, b.min, b.max, b.minRaw, b.live, blob); err != nil {
			return err
		}
		next++
	}
	return nil
}

// resolveConflict decides about an id whose key is already in event_index:
// a duplicate (true) if the id stored there (or in the extra table) is the
// same; otherwise it indexes the id at l in the extra table.
func resolveConflict(ctx context.Context, tx *sql.Tx, cache *chunkCache, key int64, id string, l, chunk int64,
	kept []entry, log *slog.Logger) (bool, error) {
	var held int64
	if err := tx.QueryRowContext(ctx, `SELECT loc FROM event_index WHERE key = ?`, key).Scan(&held); err != nil {
		return false, err
	}
	c, pos := splitLoc(held)
	if c == chunk {
		if kept[pos].id == id {
			return true, nil
		}
	} else {
		e, err := cache.at(ctx, c, pos)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A chunk purged as corrupt left its index entry: take it over.
			_, err := tx.ExecContext(ctx, `UPDATE event_index SET loc = ? WHERE key = ?`, l, key)
			return false, err
		case errors.Is(err, errCorrupt):
			// The id there cannot be read: keep this event rather than drop it.
			log.Warn("event chunk unreadable; storing a possible duplicate", "chunk", c, "err", err)
		case err != nil:
			return false, err
		case !e.deleted && e.id == id:
			return true, nil
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO event_index_extra (id, key, loc) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, id, key, l)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 0, err
}

// bounds are a chunk's index columns, over its live entries.
type bounds struct {
	min, max int64
	minRaw   sql.NullInt64 // NULL when no live entry has a raw record
	live     int
}

func boundsOf(es []entry) bounds {
	b := bounds{min: math.MaxInt64, max: math.MinInt64}
	for _, e := range es {
		if e.deleted {
			continue
		}
		b.live++
		b.min, b.max = min(b.min, e.received), max(b.max, e.received)
		if len(e.raw) > 0 && (!b.minRaw.Valid || e.received < b.minRaw.Int64) {
			b.minRaw = sql.NullInt64{Int64: e.received, Valid: true}
		}
	}
	return b
}

// rowQuerier is a *sql.Tx or *sql.DB.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// chunkCache reads chunks and decoded frames once per operation.
type chunkCache struct {
	q      rowQuerier
	chunks map[int64]*chunkReader
	frames map[[2]int64][]entry
}

func newChunkCache(q rowQuerier) *chunkCache {
	return &chunkCache{q: q, chunks: map[int64]*chunkReader{}, frames: map[[2]int64][]entry{}}
}

// at returns the entry at pos of chunk c: store.ErrNotFound if there is no
// such chunk, an error wrapping errCorrupt if it cannot be decoded.
func (cc *chunkCache) at(ctx context.Context, c int64, pos int) (entry, error) {
	r, ok := cc.chunks[c]
	if !ok {
		var data []byte
		err := cc.q.QueryRowContext(ctx, `SELECT data FROM event_chunks WHERE id = ?`, c).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return entry{}, store.ErrNotFound
		}
		if err != nil {
			return entry{}, err
		}
		if r, err = openChunk(data); err != nil {
			return entry{}, fmt.Errorf("event chunk %d: %w", c, err)
		}
		cc.chunks[c] = r
	}
	if pos < 0 || pos >= r.events {
		return entry{}, fmt.Errorf("event chunk %d: %w: position %d of %d", c, errCorrupt, pos, r.events)
	}
	f := pos / frameEvents
	es, ok := cc.frames[[2]int64{c, int64(f)}]
	if !ok {
		var err error
		if es, err = r.frame(f); err != nil {
			return entry{}, fmt.Errorf("event chunk %d: %w", c, err)
		}
		cc.frames[[2]int64{c, int64(f)}] = es
	}
	return es[pos%frameEvents], nil
}

// GetEvents returns the stored events among ids, in the order given. An
// event in a chunk that cannot be decoded is an error naming the chunk.
func (s *Store) GetEvents(ctx context.Context, ids []string) ([]*event.Event, error) {
	if len(ids) > MaxGetEvents {
		return nil, fmt.Errorf("getting events: %w: %d ids, limit %d", store.ErrInvalid, len(ids), MaxGetEvents)
	}
	if len(ids) == 0 {
		return []*event.Event{}, nil
	}
	// One read transaction: the index and the chunks of one snapshot.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("getting events: %w", err)
	}
	defer tx.Rollback()
	found, err := getEvents(ctx, tx, ids)
	if err != nil {
		return nil, fmt.Errorf("getting events: %w", err)
	}
	out := make([]*event.Event, 0, len(found))
	for _, id := range ids {
		if ev, ok := found[id]; ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

func getEvents(ctx context.Context, tx *sql.Tx, ids []string) (map[string]*event.Event, error) {
	byKey := make(map[int64][]string, len(ids))
	for _, id := range ids {
		k := keyOf(id)
		byKey[k] = append(byKey[k], id)
	}
	keys := make([]any, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	locs := map[string]int64{}
	err := inChunks(ctx, tx, `SELECT key, loc FROM event_index WHERE key IN `, keys, func(rows *sql.Rows) error {
		var k, l int64
		if err := rows.Scan(&k, &l); err != nil {
			return err
		}
		for _, id := range byKey[k] {
			locs[id] = l
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cache := newChunkCache(tx)
	found := make(map[string]*event.Event, len(ids))
	var missing []any
	try := func(id string, l int64) error {
		c, pos := splitLoc(l)
		e, err := cache.at(ctx, c, pos)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if e.deleted || e.id != id {
			return nil
		}
		ev, err := e.event()
		if err != nil {
			return fmt.Errorf("event chunk %d: %w", c, err)
		}
		found[id] = ev
		return nil
	}
	for _, id := range ids {
		if _, done := found[id]; done {
			continue
		}
		if l, ok := locs[id]; ok {
			if err := try(id, l); err != nil {
				return nil, err
			}
		}
		if _, ok := found[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return found, nil
	}
	// Ids whose key another id holds: rare, the table is almost always empty.
	var extra bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM event_index_extra)`).Scan(&extra); err != nil || !extra {
		return found, err
	}
	more := map[string]int64{}
	err = inChunks(ctx, tx, `SELECT id, loc FROM event_index_extra WHERE id IN `, missing, func(rows *sql.Rows) error {
		var (
			id string
			l  int64
		)
		if err := rows.Scan(&id, &l); err != nil {
			return err
		}
		more[id] = l
		return nil
	})
	if err != nil {
		return nil, err
	}
	for id, l := range more {
		if err := try(id, l); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// inChunks runs q followed by an IN list of args, idChunk at a time.
func inChunks(ctx context.Context, q rowQuerier, prefix string, args []any, row func(*sql.Rows) error) error {
	for start := 0; start < len(args); start += idChunk {
		part := args[start:min(start+idChunk, len(args))]
		rows, err := q.QueryContext(ctx, prefix+"(?"+strings.Repeat(",?", len(part)-1)+")", part...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := row(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// event copies e out of its decoded frame.
func (e *entry) event() (*event.Event, error) {
	fields, err := store.DecodeFields(e.fields)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", e.id, err)
	}
	return &event.Event{ID: e.id, Time: fromMicros(e.time), Received: fromMicros(e.received),
		Source: e.source, Format: e.format, Fields: fields, Raw: append([]byte(nil), e.raw...)}, nil
}

// PurgeEvents deletes events received before t. A chunk all of whose
// events go is deleted; a chunk straddling t is rewritten without them. A
// corrupt chunk is deleted once its newest event is due, and one straddling
// t is left in place and reported in the error, after the rest is purged.
func (s *Store) PurgeEvents(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.rewriteChunks(ctx, "min_received", before, func(es []entry) int64 {
		var n int64
		for i := range es {
			if !es[i].deleted && es[i].received < micros(before) {
				es[i] = entry{deleted: true}
				n++
			}
		}
		return n
	})
	if err != nil {
		return n, fmt.Errorf("purging events: %w", err)
	}
	return n, nil
}

// PurgeRaw empties the raw record of events received before t.
func (s *Store) PurgeRaw(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.rewriteChunks(ctx, "min_raw_received", before, func(es []entry) int64 {
		var n int64
		for i := range es {
			if !es[i].deleted && es[i].received < micros(before) && len(es[i].raw) > 0 {
				es[i].raw = nil
				n++
			}
		}
		return n
	})
	if err != nil {
		return n, fmt.Errorf("purging raw records: %w", err)
	}
	return n, nil
}

// rewriteChunks applies edit to every chunk whose column (min_received or
// min_raw_received) is before t, purgeChunks chunks per transaction, and
// stores the result: entries edit deleted leave the index, and a chunk
// left with no live entry is deleted. It returns edit's total.
func (s *Store) rewriteChunks(ctx context.Context, column string, before time.Time, edit func([]entry) int64) (int64, error) {
	var (
		total   int64
		corrupt []error
		// keyset cursor, so a chunk left in place is not selected again
		afterMin int64 = math.MinInt64
		afterID  int64
	)
	for {
		var done bool
		err := s.write(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT id, `+column+`, max_received, events, data FROM event_chunks
				WHERE `+column+` < ? AND (`+column+`, id) > (?, ?) ORDER BY `+column+`, id LIMIT ?`,
				micros(before), afterMin, afterID, purgeChunks)
			if err != nil {
				return err
			}
			type chunkRow struct {
				id, min, max int64
				events       int64
				data         []byte
			}
			var cs []chunkRow
			for rows.Next() {
				var c chunkRow
				if err := rows.Scan(&c.id, &c.min, &c.max, &c.events, &c.data); err != nil {
					rows.Close()
					return err
				}
				cs = append(cs, c)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			done = len(cs) < purgeChunks
			var extra bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM event_index_extra)`).Scan(&extra); err != nil {
				return err
			}
			var n int64
			for _, c := range cs {
				afterMin, afterID = c.min, c.id
				r, err := openChunk(c.data)
				var es []entry
				if err == nil {
					es, err = r.all()
				}
				if err != nil {
					if c.max < micros(before) && column == "min_received" {
						// Unreadable and due: delete it; its index entries are
						// taken over by the next id with their key.
						s.log.Warn("deleting a corrupt event chunk", "chunk", c.id, "events", c.events, "err", err)
						if _, err := tx.ExecContext(ctx, `DELETE FROM event_chunks WHERE id = ?`, c.id); err != nil {
							return err
						}
						n += c.events
						continue
					}
					corrupt = append(corrupt, fmt.Errorf("event chunk %d: %w", c.id, err))
					continue
				}
				ids := make([]string, len(es)) // "" for entries deleted before
				for i := range es {
					ids[i] = es[i].id
				}
				n += edit(es)
				for i := range es {
					if es[i].deleted && ids[i] != "" {
						if err := unindex(ctx, tx, ids[i], loc(c.id, i), extra); err != nil {
							return err
						}
					}
				}
				b := boundsOf(es)
				if b.live == 0 {
					_, err = tx.ExecContext(ctx, `DELETE FROM event_chunks WHERE id = ?`, c.id)
				} else {
					_, err = tx.ExecContext(ctx, `UPDATE event_chunks SET min_received = ?, max_received = ?,
						min_raw_received = ?, events = ?, data = ? WHERE id = ?`, b.min, b.max, b.minRaw, b.live, encodeChunk(es), c.id)
				}
				if err != nil {
					return err
				}
			}
			if extra {
				if err := promoteExtra(ctx, tx); err != nil {
					return err
				}
			}
			total += n
			return nil
		})
		if err != nil {
			return total, err
		}
		if done {
			return total, errors.Join(corrupt...)
		}
	}
}

// unindex removes the index entry of id, stored at l.
func unindex(ctx context.Context, tx *sql.Tx, id string, l int64, extra bool) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM event_index WHERE key = ? AND loc = ?`, keyOf(id), l); err != nil {
		return err
	}
	if extra {
		if _, err := tx.ExecContext(ctx, `DELETE FROM event_index_extra WHERE id = ? AND loc = ?`, id, l); err != nil {
			return err
		}
	}
	return nil
}

// promoteExtra moves an extra-table id into event_index where its key has
// no entry left, so an id is found, and deduplicated, by its key again.
func promoteExtra(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO event_index (key, loc)
		SELECT key, min(loc) FROM event_index_extra WHERE key NOT IN (SELECT key FROM event_index) GROUP BY key`); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM event_index_extra WHERE (key, loc) IN (SELECT key, loc FROM event_index)`)
	return err
}

// moveLegacyEvents is migration 5: it moves the rows of the events table
// (one row per event, before chunks) into chunks of legacyBatch events, in
// insertion order, and drops the table.
func (s *Store) moveLegacyEvents(ctx context.Context, tx *sql.Tx) error {
	ins, err := tx.PrepareContext(ctx, qInsertIndex)
	if err != nil {
		return err
	}
	defer ins.Close()
	insChunk, err := tx.PrepareContext(ctx, qInsertChunk)
	if err != nil {
		return err
	}
	defer insChunk.Close()
	const legacyBatch = 2048
	var after, moved int64
	for {
		rows, err := tx.QueryContext(ctx, `SELECT rowid, id, time, received, source, format, fields, raw
			FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?`, after, legacyBatch)
		if err != nil {
			return err
		}
		var es []entry
		for rows.Next() {
			var e entry
			if err := rows.Scan(&after, &e.id, &e.time, &e.received, &e.source, &e.format, &e.fields, &e.raw); err != nil {
				rows.Close()
				return err
			}
			es = append(es, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(es) == 0 {
			break
		}
		if err := appendChunks(ctx, tx, ins, insChunk, [][]entry{es}, [][]byte{nil}, s.log); err != nil {
			return err
		}
		moved += int64(len(es))
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE events`); err != nil {
		return err
	}
	s.log.Info("events moved into chunks", "events", moved)
	return nil
}
