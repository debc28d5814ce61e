package audit

import (
	"context"
	"encoding/json"
	"fmt"
)

// Helpers shared by the stores that hold the chain (store/sqlite, store/postgres).

// PageSize bounds the rows a store reads per query in Range.
const PageSize = 500

// EncodeVersions renders Record.Versions as stored: JSON with sorted keys, "{}" when empty.
func EncodeVersions(v map[string]string) (string, error) {
	if len(v) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(v) // keys sorted
	if err != nil {
		return "", fmt.Errorf("encoding audit versions: %w", err)
	}
	return string(b), nil
}

// DecodeVersions reads what EncodeVersions wrote; empty becomes nil.
func DecodeVersions(s string) (map[string]string, error) {
	var v map[string]string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decoding versions: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// RangePages implements Store.Range over a page query that returns at most
// PageSize records with from <= seq <= to in ascending order: fn sees every
// record once, a page at a time, so fn may be slow. to <= 0 means the head.
func RangePages(ctx context.Context, from, to int64, page func(ctx context.Context, from, to int64) ([]Record, error), fn func(Record) error) error {
	if to <= 0 {
		to = 1<<63 - 1
	}
	for {
		recs, err := page(ctx, from, to)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(recs) < PageSize {
			return nil
		}
		from = recs[len(recs)-1].Seq + 1
	}
}
