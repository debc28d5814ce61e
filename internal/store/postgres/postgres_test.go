package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/postgres"
	"github.com/rampart-ids/rampart/internal/store/storetest"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testDSN returns a DSN whose search_path is a fresh schema, dropped at
// cleanup, so parallel runs never see each other's tables. It skips the
// test when the server is unreachable.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("RAMPART_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Skipf("postgres not reachable (set RAMPART_TEST_POSTGRES_DSN; default %s): %v", defaultDSN, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "rampart_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parsing RAMPART_TEST_POSTGRES_DSN: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

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
