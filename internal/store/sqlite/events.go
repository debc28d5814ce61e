package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/store"
)

// Events live in event_chunks (chunk.go); an id's key (idKey) leads to its
// location (loc) through event_index, or through the staged keys of recent
// chunks not yet merged into it (staging.go); event_index_extra holds the
// few ids whose key another stored id already holds. The keys are what
// make a record read twice store once: an id whose key is held is either
// stored (ignored) or a key collision (indexed in the extra table).
const qInsertChunk = `INSERT INTO event_chunks (id, min_received, max_received, min_raw_received, events, keys, data)
	VALUES (?, ?, ?, ?, ?, ?, ?)`

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
	buf := fieldBufs.Get().(*[]byte)
	defer fieldBufs.Put(buf) // nothing refers to it once this returns
	es, err := entries(evs, buf)
	if err != nil {
		return fmt.Errorf("appending events: %w", err)
	}
	parts := split(es)
	blobs := make([][]byte, len(parts))
	for i, p := range parts {
		blobs[i] = encodeChunk(p)
	}
	s.evMu.Lock()
	defer s.evMu.Unlock()
	var staged []keyLoc
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		staged, err = appendChunks(ctx, tx, s.stmt(ctx, tx, qInsertChunk), s.staged, parts, blobs, s.log)
		return err
	})
	if err != nil {
		return fmt.Errorf("appending %d events: %w", len(evs), err)
	}
	s.staged.apply(staged, nil)
	if s.staged.len() >= mergeKeys {
		// The events are stored: a failed merge is retried with the next batch.
		if err := s.mergeStaged(ctx); err != nil {
			s.log.Warn("merging staged event keys failed", "err", err)
		}
	}
	return nil
}

// mergeStaged moves the staged keys into event_index. The caller holds evMu.
func (s *Store) mergeStaged(ctx context.Context) error {
	var merged []keyLoc
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		merged, err = mergeStaged(ctx, tx, s.staged)
		return err
	})
	if err != nil {
		return err
	}
	s.staged.apply(nil, merged)
	return nil
}

// fieldBufs holds AppendEvents' fields buffers: a batch's are megabytes.
var fieldBufs = sync.Pool{New: func() any { return new([]byte) }}

// entries validates evs and encodes their fields into one buffer, *buf
// (grown as needed; the entries alias it).
func entries(evs []*event.Event, buf *[]byte) ([]entry, error) {
	b := (*buf)[:0]
	es := make([]entry, len(evs))
	ends := make([]int, len(evs))
	for i, ev := range evs {
		if ev == nil || ev.ID == "" {
			return nil, fmt.Errorf("%w: event %d has no id", store.ErrInvalid, i)
		}
		var err error
		if b, err = appendFields(b, ev.Fields); err != nil {
			return nil, fmt.Errorf("%w: event %s: %w", store.ErrInvalid, ev.ID, err)
		}
		ends[i] = len(b)
		es[i] = entry{id: ev.ID, time: micros(ev.Time), received: micros(ev.Received),
			source: ev.Source, format: ev.Format, raw: ev.Raw}
	}
	// Sliced only now: appending may have moved the buffer.
	start := 0
	for i := range es {
		es[i].fields = b[start:ends[i]:ends[i]]
		start = ends[i]
	}
	*buf = b
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

// appendChunks stores each part as one chunk, leaving out ids already
// stored (or repeated within the batch): their slots are stored deleted, so
// positions are fixed before anything is written. blobs[i], when not nil,
// is parts[i] encoded: used when no id was left out. It returns the keys it
// staged, for st once the transaction commits.
func appendChunks(ctx context.Context, tx *sql.Tx, insChunk *sql.Stmt, st *staging, parts [][]entry, blobs [][]byte, log *slog.Logger) (added []keyLoc, err error) {
	// Ids come from event_chunk_seq, never max(id)+1: an id freed by
	// deleting a corrupt chunk may still be named by index entries.
	var next int64
	if err := tx.QueryRowContext(ctx, `SELECT next FROM event_chunk_seq`).Scan(&next); err != nil {
		return nil, err
	}
	first := next
	defer func() {
		if err == nil && next != first {
			_, err = tx.ExecContext(ctx, `UPDATE event_chunk_seq SET next = ?`, next)
		}
	}()
	cache := newChunkCache(tx)
	pending := map[int64]int64{} // keys staged by this call
	for i, es := range parts {
		keys := make([]int64, len(es))
		for j := range es {
			keys[j] = keyOf(es[j].id)
		}
		// Where each key is held now: staged, else in event_index.
		held := map[int64]int64{}
		st.lookup(keys, held)
		inIndex := map[int64]int64{}
		if err := indexLookup(ctx, tx, keys, held, inIndex); err != nil {
			return nil, err
		}
		for k, l := range inIndex {
			held[k] = l
		}
		extra, err := hasExtra(ctx, tx)
		if err != nil {
			return nil, err
		}
		var inExtra map[string]int64
		if extra {
			ids := make([]any, len(es))
			for j := range es {
				ids[j] = es[j].id
			}
			if inExtra, err = extraIDs(ctx, tx, ids); err != nil {
				return nil, err
			}
		}
		dups := 0
		var staged []keyLoc
		for j := range es {
			k, id, l := keys[j], es[j].id, loc(next, j)
			hl, ok := pending[k]
			if !ok {
				hl, ok = held[k]
			}
			var dup bool
			switch {
			case ok:
				_, indexed := inIndex[k]
				if dup, err = resolveConflict(ctx, tx, cache, k, id, hl, l, next, es, indexed, log); err != nil {
					return nil, err
				}
			default:
				_, dup = inExtra[id] // its key's first holder is gone
				if !dup {
					pending[k] = l
					staged = append(staged, keyLoc{k, l})
				}
			}
			if dup {
				if dups == 0 {
					es = slices.Clone(es) // the caller's entries stay as given
				}
				es[j] = entry{deleted: true}
				dups++
			}
		}
		if dups == len(es) {
			continue
		}
		blob := blobs[i]
		if blob == nil || dups > 0 {
			blob = encodeChunk(es)
		}
		var keysCol []byte
		if len(staged) > 0 {
			keysCol = encodeKeys(staged)
		}
		b := boundsOf(es)
		if _, err := insChunk.ExecContext(ctx, next, b.min, b.max, b.minRaw, b.live, keysCol, blob); err != nil {
			return nil, err
		}
		added = append(added, staged...)
		next++
	}
	return added, nil
}

func hasExtra(ctx context.Context, q rowQuerier) (bool, error) {
	var extra bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM event_index_extra)`).Scan(&extra)
	return extra, err
}

// resolveConflict decides about id, whose key is held at held: a duplicate
// (true) if the id stored there (or in the extra table) is the same;
// otherwise the id is indexed at l, in the extra table or, if held points
// into a chunk deleted as corrupt, in event_index in its place. indexed
// says held is from event_index; batch is the chunk being written.
func resolveConflict(ctx context.Context, tx *sql.Tx, cache *chunkCache, key int64, id string, held, l, chunk int64,
	batch []entry, indexed bool, log *slog.Logger) (bool, error) {
	c, pos := splitLoc(held)
	if c == chunk {
		if !batch[pos].deleted && batch[pos].id == id {
			return true, nil
		}
	} else {
		e, err := cache.at(ctx, c, pos)
		switch {
		case errors.Is(err, store.ErrNotFound) && indexed:
			_, err := tx.ExecContext(ctx, `UPDATE event_index SET loc = ? WHERE key = ?`, l, key)
			return false, err
		case errors.Is(err, store.ErrNotFound):
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

// chunkCache reads chunks (and their decoded frames) once per operation.
type chunkCache struct {
	q      rowQuerier
	chunks map[int64]*chunkReader
}

func newChunkCache(q rowQuerier) *chunkCache {
	return &chunkCache{q: q, chunks: map[int64]*chunkReader{}}
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
	e, err := r.at(pos)
	if err != nil {
		return entry{}, fmt.Errorf("event chunk %d: %w", c, err)
	}
	return e, nil
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
	keys := make([]int64, len(ids))
	for i, id := range ids {
		keys[i] = keyOf(id)
	}
	// Staged keys first: a key leaves staging only after it is in
	// event_index, and the snapshot below starts later, so it is found in one
	// or the other.
	held := map[int64]int64{}
	s.staged.lookup(keys, held)
	// One read transaction: the index and the chunks of one snapshot.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("getting events: %w", err)
	}
	defer tx.Rollback()
	found, err := getEvents(ctx, tx, ids, keys, held)
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

func getEvents(ctx context.Context, tx *sql.Tx, ids []string, keys []int64, held map[int64]int64) (map[string]*event.Event, error) {
	if err := indexLookup(ctx, tx, keys, held, held); err != nil {
		return nil, err
	}
	locs := make(map[string]int64, len(ids))
	for i, id := range ids {
		if l, ok := held[keys[i]]; ok {
			locs[id] = l
		}
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
	if extra, err := hasExtra(ctx, tx); err != nil || !extra {
		return found, err
	}
	more, err := extraIDs(ctx, tx, missing)
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

// event copies e out of its decoded frame.
func (e *entry) event() (*event.Event, error) {
	decode := decodeFields
	if e.json {
		decode = store.DecodeFields
	}
	fields, err := decode(e.fields)
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
		done, err := s.rewriteSome(ctx, column, before, edit, &afterMin, &afterID, &total, &corrupt)
		if err != nil {
			return total, err
		}
		if done {
			return total, errors.Join(corrupt...)
		}
	}
}

// rewriteSome is one transaction of rewriteChunks: up to purgeChunks chunks
// after the cursor (afterMin, afterID), which it advances.
func (s *Store) rewriteSome(ctx context.Context, column string, before time.Time, edit func([]entry) int64,
	afterMin, afterID, total *int64, corrupt *[]error) (done bool, err error) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	var unstage []keyLoc
	var n int64
	cursorMin, cursorID := *afterMin, *afterID
	var bad []error
	err = s.write(ctx, func(tx *sql.Tx) error {
		n, unstage, bad = 0, nil, nil
		cursorMin, cursorID = *afterMin, *afterID
		rows, err := tx.QueryContext(ctx, `SELECT id, `+column+`, max_received, events, keys, data FROM event_chunks
			WHERE `+column+` < ? AND (`+column+`, id) > (?, ?) ORDER BY `+column+`, id LIMIT ?`,
			micros(before), cursorMin, cursorID, purgeChunks)
		if err != nil {
			return err
		}
		type chunkRow struct {
			id, min, max int64
			events       int64
			keys, data   []byte
		}
		var cs []chunkRow
		for rows.Next() {
			var c chunkRow
			if err := rows.Scan(&c.id, &c.min, &c.max, &c.events, &c.keys, &c.data); err != nil {
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
		extra, err := hasExtra(ctx, tx)
		if err != nil {
			return err
		}
		for _, c := range cs {
			cursorMin, cursorID = c.min, c.id
			var staged []keyLoc // nil once merged into event_index
			if c.keys != nil {
				if staged, err = decodeKeys(c.id, c.keys); err != nil {
					return err
				}
			}
			r, err := openChunk(c.data)
			var es []entry
			if err == nil {
				es, err = r.all()
			}
			if err != nil {
				if c.max < micros(before) && column == "min_received" {
					// Unreadable and due: delete it. Merged index entries stay
					// behind, taken over by the next id with their key.
					s.log.Warn("deleting a corrupt event chunk", "chunk", c.id, "events", c.events, "err", err)
					if _, err := tx.ExecContext(ctx, `DELETE FROM event_chunks WHERE id = ?`, c.id); err != nil {
						return err
					}
					unstage = append(unstage, staged...)
					n += c.events
					continue
				}
				bad = append(bad, fmt.Errorf("event chunk %d: %w", c.id, err))
				continue
			}
			ids := make([]string, len(es)) // "" for entries deleted before
			for i := range es {
				ids[i] = es[i].id
			}
			n += edit(es)
			gone := map[int64]string{} // loc → id
			for i := range es {
				if es[i].deleted && ids[i] != "" {
					gone[loc(c.id, i)] = ids[i]
				}
			}
			if err := unindex(ctx, tx, gone, extra); err != nil {
				return err
			}
			var keysCol []byte
			if staged != nil {
				var keep []keyLoc
				for _, kl := range staged {
					if _, ok := gone[kl.loc]; ok {
						unstage = append(unstage, kl)
					} else {
						keep = append(keep, kl)
					}
				}
				keysCol = encodeKeys(keep)
			}
			b := boundsOf(es)
			if b.live == 0 {
				_, err = tx.ExecContext(ctx, `DELETE FROM event_chunks WHERE id = ?`, c.id)
			} else {
				_, err = tx.ExecContext(ctx, `UPDATE event_chunks SET min_received = ?, max_received = ?,
					min_raw_received = ?, events = ?, keys = ?, data = ? WHERE id = ?`,
					b.min, b.max, b.minRaw, b.live, keysCol, encodeChunk(es), c.id)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	s.staged.apply(nil, unstage)
	*afterMin, *afterID = cursorMin, cursorID
	*total += n
	*corrupt = append(*corrupt, bad...)
	return done, nil
}

// unindex removes the index entries of the ids at the locations gone:
// from event_index (where an id of a staged chunk is too if it took over a
// key from a corrupt chunk), where its key is held at its location, and
// from the extra table.
func unindex(ctx context.Context, tx *sql.Tx, gone map[int64]string, extra bool) error {
	if len(gone) == 0 {
		return nil
	}
	keys := make([]int64, 0, len(gone))
	for _, id := range gone {
		keys = append(keys, keyOf(id))
	}
	held := map[int64]int64{}
	if err := indexLookup(ctx, tx, keys, nil, held); err != nil {
		return err
	}
	list := []byte{'['}
	for k, l := range held {
		if _, ok := gone[l]; ok {
			if len(list) > 1 {
				list = append(list, ',')
			}
			list = strconv.AppendInt(list, k, 10)
		}
	}
	list = append(list, ']')
	if len(list) > 2 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM event_index WHERE key IN (SELECT value FROM json_each(?))`, string(list)); err != nil {
			return err
		}
	}
	if !extra {
		return nil
	}
	del, err := tx.PrepareContext(ctx, `DELETE FROM event_index_extra WHERE id = ? AND loc = ?`)
	if err != nil {
		return err
	}
	defer del.Close()
	for l, id := range gone {
		if _, err := del.ExecContext(ctx, id, l); err != nil {
			return err
		}
	}
	return nil
}

// ensureChunkSeq is migration 8: event_chunk_seq holds the next chunk id.
// Chunk ids are never reused: deleting a corrupt chunk leaves its merged
// event_index entries behind (their ids are unknown), and they must keep
// naming a missing chunk, never a later chunk given the same id. Migration
// 5 runs it first (it appends chunks); running it again changes nothing.
func ensureChunkSeq(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS event_chunk_seq (next INTEGER NOT NULL);
		INSERT INTO event_chunk_seq SELECT coalesce(max(id), 0) + 1 FROM event_chunks
		WHERE NOT EXISTS (SELECT 1 FROM event_chunk_seq)`)
	return err
}

// moveLegacyEvents is migration 5: it moves the rows of the events table
// (one row per event, before chunks) into chunks of legacyBatch events, in
// insertion order, and drops the table.
func (s *Store) moveLegacyEvents(ctx context.Context, tx *sql.Tx) error {
	if err := ensureChunkSeq(ctx, tx); err != nil { // migration 8, needed by appendChunks
		return err
	}
	insChunk, err := tx.PrepareContext(ctx, qInsertChunk)
	if err != nil {
		return err
	}
	defer insChunk.Close()
	const legacyBatch = 2048
	var after, moved int64
	st := &staging{locs: map[int64]int64{}}
	for {
		rows, err := tx.QueryContext(ctx, `SELECT rowid, id, time, received, source, format, fields, raw
			FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?`, after, legacyBatch)
		if err != nil {
			return err
		}
		var es []entry
		for rows.Next() {
			e := entry{json: true}
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
		staged, err := appendChunks(ctx, tx, insChunk, st, [][]entry{es}, [][]byte{nil}, s.log)
		if err != nil {
			return err
		}
		st.apply(staged, nil) // one transaction: nothing else sees st
		moved += int64(len(es))
	}
	if _, err := mergeStaged(ctx, tx, st); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE events`); err != nil {
		return err
	}
	s.log.Info("events moved into chunks", "events", moved)
	return nil
}
