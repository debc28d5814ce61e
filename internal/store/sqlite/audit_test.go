package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
	"github.com/rampart-ids/rampart/internal/store/storetest"
)

func TestAuditConformance(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) storetest.AuditHarness {
		dir := t.TempDir()
		s := open(t, dir)
		return storetest.AuditHarness{
			Store: s.Audit(),
			Exec: func(ctx context.Context, query string) error {
				// A second connection, as another process with the file would have.
				db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(5000)")
				if err != nil {
					return err
				}
				defer db.Close()
				_, err = db.ExecContext(ctx, query)
				return err
			},
		}
	})
}

func TestAuditIntegration(t *testing.T) {
	storetest.RunAuditIntegration(t, func(t *testing.T) (store.Store, audit.Store) {
		s, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{Audit: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s, s.Audit()
	})
}

// TestAuditOffByDefault checks that a store without Options.Audit writes
// no audit records of its own.
func TestAuditOffByDefault(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	if err := s.CreateToken(ctx, store.Token{ID: "t", Name: "n", Role: "viewer", Hash: "h"}); err != nil {
		t.Fatal(err)
	}
	if h, err := s.Audit().Head(ctx); err != nil || h.Seq != 0 {
		t.Errorf("Head = %+v, %v; want an empty chain", h, err)
	}
}

// BenchmarkRecordSignalsNewAlerts measures what auditing costs when every
// signal creates an alert (one alert_created record each).
func BenchmarkRecordSignalsNewAlerts(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("audit=%v", on), func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), b.TempDir(), sqlite.Options{Audit: on})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchRecordSignals(b, s, 100, 1<<30)
		})
	}
}

// BenchmarkAuditAppend appends one record per transaction.
func BenchmarkAuditAppend(b *testing.B) {
	s := open(b, b.TempDir())
	a := s.Audit()
	ctx := context.Background()
	rec := audit.Record{Actor: "component:bench", Action: audit.ActionDecisionMade, SubjectKind: "decision", SubjectID: "d1",
		InputDigest: audit.Digest([]byte("x")), Versions: map[string]string{"policy": "p@1"}, Explanation: "block 203.0.113.9 for 1h"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Append(ctx, []audit.Record{rec}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAuditVerify verifies a 10,000-record chain read from SQLite.
func BenchmarkAuditVerify(b *testing.B) {
	s := open(b, b.TempDir())
	ctx := context.Background()
	l, err := audit.OpenLog(s.Audit(), filepath.Join(b.TempDir(), audit.KeyFileName), audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	const n = 10000
	batch := make([]audit.Record, 100)
	for i := 0; i < n; i += len(batch) {
		for j := range batch {
			batch[j] = audit.Record{Actor: "component:bench", Action: audit.ActionAlertCreated, SubjectKind: "alert",
				SubjectID: fmt.Sprint(i + j), Versions: map[string]string{"rule": "r@1"}, Explanation: "5 failed logins in 60s"}
		}
		if _, err := l.Record(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if rep, err := l.Verify(ctx); err != nil || !rep.OK || rep.Records != n {
			b.Fatalf("%+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

func TestSuppressions(t *testing.T) {
	storetest.RunSuppressions(t, func(t *testing.T) (store.Store, audit.Store) {
		s, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{Audit: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s, s.Audit()
	})
}
