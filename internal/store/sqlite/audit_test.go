package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

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
