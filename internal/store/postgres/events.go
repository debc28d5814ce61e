package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/store"
)

// MaxGetEvents bounds the ids one GetEvents call may ask for.
const MaxGetEvents = 10000

// appendChunk bounds the rows of one INSERT … unnest statement.
const appendChunk = 5000

// AppendEvents stores evs in one transaction; ids already stored are ignored.
// A malformed event (no id, a field of an unsupported type) fails the batch.
func (s *Store) AppendEvents(ctx context.Context, evs []*event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	n := len(evs)
	ids, sources, formats, fields := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times, received := make([]time.Time, n), make([]time.Time, n)
	raws := make([][]byte, n)
	for i, ev := range evs {
		if ev == nil || ev.ID == "" {
			return fmt.Errorf("appending events: %w: event %d has no id", store.ErrInvalid, i)
		}
		f, err := store.EncodeFields(ev.Fields)
		if err != nil {
			return fmt.Errorf("appending events: %w: event %s: %w", store.ErrInvalid, ev.ID, err)
		}
		ids[i], sources[i], formats[i], fields[i] = pgText(ev.ID), pgText(ev.Source), pgText(ev.Format), string(f)
		times[i], received[i] = ev.Time, ev.Received
		raws[i] = ev.Raw
		if raws[i] == nil {
			raws[i] = []byte{} // NOT NULL column; nil and empty read back the same
		}
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for start := 0; start < n; start += appendChunk {
			end := min(start+appendChunk, n)
			if _, err := tx.Exec(ctx, `INSERT INTO events (id, time, received, source, format, fields, raw)
				SELECT id, t, r, s, f, fl::json, raw
				FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::bytea[])
					AS u(id, t, r, s, f, fl, raw)
				ON CONFLICT (id) DO NOTHING`,
				ids[start:end], times[start:end], received[start:end], sources[start:end],
				formats[start:end], fields[start:end], raws[start:end]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("appending %d events: %w", n, err)
	}
	return nil
}

// GetEvents returns the stored events among ids, in the order given.
func (s *Store) GetEvents(ctx context.Context, ids []string) ([]*event.Event, error) {
	if len(ids) > MaxGetEvents {
		return nil, fmt.Errorf("getting events: %w: %d ids, limit %d", store.ErrInvalid, len(ids), MaxGetEvents)
	}
	if len(ids) == 0 {
		return []*event.Event{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, time, received, source, format, fields::text, raw
		FROM events WHERE id = ANY($1::text[])`, pgTexts(ids))
	if err != nil {
		return nil, fmt.Errorf("getting events: %w", err)
	}
	defer rows.Close()
	found := make(map[string]*event.Event, len(ids))
	for rows.Next() {
		var (
			ev     event.Event
			fields string
		)
		if err := rows.Scan(&ev.ID, &ev.Time, &ev.Received, &ev.Source, &ev.Format, &fields, &ev.Raw); err != nil {
			return nil, fmt.Errorf("getting events: %w", err)
		}
		ev.Time, ev.Received = utc(ev.Time), utc(ev.Received)
		if ev.Fields, err = store.DecodeFields([]byte(fields)); err != nil {
			return nil, fmt.Errorf("getting events: event %s: %w", ev.ID, err)
		}
		found[ev.ID] = &ev
	}
	if err := rows.Err(); err != nil {
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

// PurgeEvents deletes events received before t, in chunks of purgeChunk rows.
func (s *Store) PurgeEvents(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purge(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE received < $1 LIMIT $2)`, before)
	if err != nil {
		return n, fmt.Errorf("purging events: %w", err)
	}
	return n, nil
}
