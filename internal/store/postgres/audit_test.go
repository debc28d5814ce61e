package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/postgres"
	"github.com/rampart-ids/rampart/internal/store/storetest"
)

func TestAuditConformance(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) storetest.AuditHarness {
		dsn := testDSN(t)
		s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return storetest.AuditHarness{
			Store: s.Audit(),
			Exec: func(ctx context.Context, query string) error {
				conn, err := pgx.Connect(ctx, dsn)
				if err != nil {
					return err
				}
				defer conn.Close(ctx)
				_, err = conn.Exec(ctx, query)
				return err
			},
		}
	})
}

func TestAuditIntegration(t *testing.T) {
	storetest.RunAuditIntegration(t, func(t *testing.T) (store.Store, audit.Store) {
		s, err := postgres.Open(context.Background(), testDSN(t), postgres.Options{MaxConns: 8, Audit: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s, s.Audit()
	})
}

// BenchmarkRecordSignalsNewAlerts measures what auditing costs when every
// signal creates an alert (one alert_created record each).
func BenchmarkRecordSignalsNewAlerts(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("audit=%v", on), func(b *testing.B) {
			s, err := postgres.Open(context.Background(), testDSN(b), postgres.Options{MaxConns: 4, Audit: on})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchRecordSignals(b, s, 100, 1<<30)
		})
	}
}

func TestSuppressions(t *testing.T) {
	storetest.RunSuppressions(t, func(t *testing.T) (store.Store, audit.Store) {
		s, err := postgres.Open(context.Background(), testDSN(t), postgres.Options{MaxConns: 8, Audit: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s, s.Audit()
	})
}
