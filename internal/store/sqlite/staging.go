package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// New ids are not inserted into event_index one batch at a time: random
// keys spread over the whole index, so each batch dirtied a page per event
// (most of the writer's time). They are staged instead: each chunk row keeps
// its ids' keys (column keys), the store keeps them in memory, and once
// mergeKeys have gathered they go into event_index in key order in one
// transaction, which writes each index page once.
var mergeKeys = 1 << 16 // a variable for tests

// staging is the keys of chunks not yet merged into event_index.
type staging struct {
	mu   sync.RWMutex
	locs map[int64]int64 // key → loc
}

func (st *staging) lookup(keys []int64, into map[int64]int64) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	for _, k := range keys {
		if l, ok := st.locs[k]; ok {
			into[k] = l
		}
	}
}

func (st *staging) get(k int64) (int64, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	l, ok := st.locs[k]
	return l, ok
}

func (st *staging) len() int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.locs)
}

// apply adds and removes staged keys (after the transaction that wrote
// them committed). A removal is of a key at a location: a key staged again
// elsewhere since stays.
func (st *staging) apply(add, remove []keyLoc) {
	if len(add)+len(remove) == 0 {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, kl := range remove {
		if st.locs[kl.key] == kl.loc {
			delete(st.locs, kl.key)
		}
	}
	for _, kl := range add {
		st.locs[kl.key] = kl.loc
	}
}

type keyLoc struct{ key, loc int64 }

// A chunk's keys column: per staged id, its position (uint16) and key
// (int64), little-endian.
func encodeKeys(kls []keyLoc) []byte {
	b := make([]byte, 0, 10*len(kls))
	for _, kl := range kls {
		_, pos := splitLoc(kl.loc)
		b = binary.LittleEndian.AppendUint16(b, uint16(pos))
		b = binary.LittleEndian.AppendUint64(b, uint64(kl.key))
	}
	return b
}

func decodeKeys(chunk int64, b []byte) ([]keyLoc, error) {
	if len(b)%10 != 0 {
		return nil, fmt.Errorf("event chunk %d: %w: keys column of %d bytes", chunk, errCorrupt, len(b))
	}
	kls := make([]keyLoc, len(b)/10)
	for i := range kls {
		pos := binary.LittleEndian.Uint16(b[10*i:])
		kls[i] = keyLoc{key: int64(binary.LittleEndian.Uint64(b[10*i+2:])), loc: loc(chunk, int(pos))}
	}
	return kls, nil
}

// loadStaging reads the keys of the chunks not merged yet.
func loadStaging(ctx context.Context, q rowQuerier) (*staging, error) {
	st := &staging{locs: map[int64]int64{}}
	rows, err := q.QueryContext(ctx, `SELECT id, keys FROM event_chunks WHERE keys IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   int64
			keys []byte
		)
		if err := rows.Scan(&id, &keys); err != nil {
			return nil, err
		}
		kls, err := decodeKeys(id, keys)
		if err != nil {
			return nil, err
		}
		for _, kl := range kls {
			st.locs[kl.key] = kl.loc
		}
	}
	return st, rows.Err()
}

// mergeStaged moves every staged key into event_index, in key order, and
// marks their chunks merged. It returns the keys merged (to unstage after
// the commit).
func mergeStaged(ctx context.Context, tx *sql.Tx, st *staging) ([]keyLoc, error) {
	st.mu.RLock()
	kls := make([]keyLoc, 0, len(st.locs))
	for k, l := range st.locs {
		kls = append(kls, keyLoc{k, l})
	}
	st.mu.RUnlock()
	slices.SortFunc(kls, func(a, b keyLoc) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	// One statement over a JSON array of [key, loc] pairs: a row per Exec
	// through database/sql cost several times SQLite's own work.
	const step = 1 << 14
	var pairs []byte
	for start := 0; start < len(kls); start += step {
		pairs = append(pairs[:0], '[')
		for i, kl := range kls[start:min(start+step, len(kls))] {
			if i > 0 {
				pairs = append(pairs, ',')
			}
			pairs = append(pairs, '[')
			pairs = strconv.AppendInt(pairs, kl.key, 10)
			pairs = append(pairs, ',')
			pairs = strconv.AppendInt(pairs, kl.loc, 10)
			pairs = append(pairs, ']')
		}
		pairs = append(pairs, ']')
		if _, err := tx.ExecContext(ctx, `INSERT INTO event_index (key, loc)
			SELECT value ->> 0, value ->> 1 FROM json_each(?)`, string(pairs)); err != nil {
			return nil, fmt.Errorf("merging staged keys: %w", err)
		}
	}
	// Chunks of staged keys, and any staged chunk whose keys all left.
	if _, err := tx.ExecContext(ctx, `UPDATE event_chunks SET keys = NULL WHERE keys IS NOT NULL`); err != nil {
		return nil, err
	}
	return kls, nil
}

// indexLookup finds the event_index locations of the keys not in held
// (staged keys, not merged into the index yet; nil: none), in one
// statement over a JSON array of them.
func indexLookup(ctx context.Context, q rowQuerier, all []int64, held, into map[int64]int64) error {
	var keys []int64
	for _, k := range all {
		if _, ok := held[k]; !ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	list := make([]byte, 0, 21*len(keys)+2)
	list = append(list, '[')
	for i, k := range keys {
		if i > 0 {
			list = append(list, ',')
		}
		list = strconv.AppendInt(list, k, 10)
	}
	list = append(list, ']')
	rows, err := q.QueryContext(ctx, `SELECT key, loc FROM event_index WHERE key IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, l int64
		if err := rows.Scan(&k, &l); err != nil {
			return err
		}
		into[k] = l
	}
	return rows.Err()
}

// extraIDs returns which of ids are in event_index_extra. Callers ask
// hasExtra first: the table is almost always empty.
func extraIDs(ctx context.Context, q rowQuerier, ids []any) (map[string]int64, error) {
	out := map[string]int64{}
	err := inChunks(ctx, q, `SELECT id, loc FROM event_index_extra WHERE id IN `, ids, func(rows *sql.Rows) error {
		var (
			id string
			l  int64
		)
		if err := rows.Scan(&id, &l); err != nil {
			return err
		}
		out[id] = l
		return nil
	})
	return out, err
}

// inChunks runs prefix followed by an IN list of args, idChunk at a time.
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
