package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/postgres"
	"github.com/rampart-ids/rampart/internal/store/postgres/pgtest"
	"github.com/rampart-ids/rampart/internal/store/storetest"
)

// testDSN is pgtest.DSN: a fresh schema per test.
func testDSN(t testing.TB) string { return pgtest.DSN(t) }

func open(t testing.TB) *postgres.Store {
	t.Helper()
	return openOpts(t, postgres.Options{MaxConns: 8})
}

func openOpts(t testing.TB, opts postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), testDSN(t), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openOpts(t, postgres.Options{MaxConns: 8, Now: now})
	})
}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	for range 2 {
		s, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := s.SetOffset(ctx, "k", store.Offset{FileID: "f", Offset: 1}); err != nil {
			t.Fatalf("SetOffset: %v", err)
		}
		s.Close()
	}
}

func TestOpenBadDSN(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://user:secret@127.0.0.1:1/x?sslmode=disable&connect_timeout=1", postgres.Options{})
	if err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error leaks the password: %v", err)
	}
	if _, err := postgres.Open(context.Background(), "postgres://%zz", postgres.Options{}); err == nil {
		t.Error("Open with a malformed DSN succeeded")
	}
}
