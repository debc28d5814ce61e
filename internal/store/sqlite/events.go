package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/store"
)

const qInsertEvent = `INSERT INTO events (id, time, received, source, format, fields, raw)
	VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

// MaxGetEvents bounds the ids one GetEvents call may ask for.
const MaxGetEvents = 10000

// idChunk keeps IN lists well under SQLite's bound-parameter limit.
const idChunk = 500

// AppendEvents stores evs in one transaction; ids already stored are ignored.
// A malformed event (no id, a field of an unsupported type) fails the batch.
func (s *Store) AppendEvents(ctx context.Context, evs []*event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	// Encode before taking the write lock, into one buffer: it is the
	// CPU-heavy part.
	size := 0
	for _, ev := range evs {
		if ev != nil {
			size += 64 * len(ev.Fields)
		}
	}
	buf := make([]byte, 0, size)
	ends := make([]int, len(evs))
	for i, ev := range evs {
		if ev == nil || ev.ID == "" {
			return fmt.Errorf("appending events: %w: event %d has no id", store.ErrInvalid, i)
		}
		var err error
		if buf, err = store.AppendFields(buf, ev.Fields); err != nil {
			return fmt.Errorf("appending events: %w: event %s: %w", store.ErrInvalid, ev.ID, err)
		}
		ends[i] = len(buf)
	}
	// buf is not written again: the fields strings can alias it (the driver copies them).
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	err := s.write(ctx, func(tx *sql.Tx) error {
		st := s.stmt(ctx, tx, qInsertEvent)
		start := 0
		for i, ev := range evs {
			raw := ev.Raw
			if raw == nil {
				raw = []byte{} // NOT NULL column; nil and empty read back the same
			}
			if _, err := st.ExecContext(ctx, ev.ID, micros(ev.Time), micros(ev.Received),
				ev.Source, ev.Format, all[start:ends[i]], raw); err != nil {
				return err
			}
			start = ends[i]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("appending %d events: %w", len(evs), err)
	}
	return nil
}

// GetEvents returns the stored events among ids, in the order given.
func (s *Store) GetEvents(ctx context.Context, ids []string) ([]*event.Event, error) {
	if len(ids) > MaxGetEvents {
		return nil, fmt.Errorf("getting events: %w: %d ids, limit %d", store.ErrInvalid, len(ids), MaxGetEvents)
	}
	found := make(map[string]*event.Event, len(ids))
	for start := 0; start < len(ids); start += idChunk {
		chunk := ids[start:min(start+idChunk, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		q := `SELECT id, time, received, source, format, fields, raw FROM events WHERE id IN (?` +
			strings.Repeat(",?", len(chunk)-1) + `)`
		if err := s.scanEvents(ctx, q, args, found); err != nil {
			return nil, fmt.Errorf("getting events: %w", err)
		}
	}
	out := make([]*event.Event, 0, len(found))
	for _, id := range ids {
		if ev, ok := found[id]; ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (s *Store) scanEvents(ctx context.Context, q string, args []any, into map[string]*event.Event) error {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ev             event.Event
			tm, rcv        int64
			fields, rawCol []byte
		)
		if err := rows.Scan(&ev.ID, &tm, &rcv, &ev.Source, &ev.Format, &fields, &rawCol); err != nil {
			return err
		}
		ev.Time, ev.Received = fromMicros(tm), fromMicros(rcv)
		if ev.Fields, err = store.DecodeFields(fields); err != nil {
			return fmt.Errorf("event %s: %w", ev.ID, err)
		}
		ev.Raw = rawCol
		into[ev.ID] = &ev
	}
	return rows.Err()
}

// PurgeEvents deletes events received before t, in chunks of purgeChunk
// rows per transaction.
func (s *Store) PurgeEvents(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purge(ctx, `DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE received < ? LIMIT ?)`, before)
	if err != nil {
		return n, fmt.Errorf("purging events: %w", err)
	}
	return n, nil
}
