package postgres_test

import (
	"context"
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
