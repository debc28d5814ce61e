package sqlite_test

import (
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/storetest"
)

func BenchmarkAppendEvents(b *testing.B) {
	storetest.BenchAppendEvents(b, open(b, b.TempDir()), 1000)
}

func BenchmarkRecordSignals(b *testing.B) {
	storetest.BenchRecordSignals(b, open(b, b.TempDir()), 100, 50)
}

// BenchmarkAppendEventsReal appends real Windows events (shared data) in batches of 1000.
func BenchmarkAppendEventsReal(b *testing.B) {
	evs := storetest.RealEvents(b, 20000)
	storetest.BenchAppendBatches(b, open(b, b.TempDir()), evs, 1000)
}

// BenchmarkInsertCeiling is the bound under AppendEvents: the same real rows
// (fields encoded beforehand) inserted through database/sql into a bare
// events table with the store's schema and pragmas, in transactions of 2000
// rows, with no other work. "ckpt=writer" checkpoints inside the commits
// (SQLite's default); "ckpt=none" leaves the WAL to grow, which is what the
// writer pays when the store checkpoints on its own connection.
func BenchmarkInsertCeiling(b *testing.B) {
	evs := storetest.RealEvents(b, 20000)
	fields := make([]string, len(evs))
	bytes := 0
	for i, ev := range evs {
		f, err := store.EncodeFields(ev.Fields)
		if err != nil {
			b.Fatal(err)
		}
		fields[i] = string(f)
		bytes += len(f) + len(ev.Raw)
	}
	for _, ckpt := range []string{"writer", "none"} {
		b.Run("ckpt="+ckpt, func(b *testing.B) {
			autockpt := map[string]string{"writer": "wal_autocheckpoint(10000)", "none": "wal_autocheckpoint(0)"}[ckpt]
			q := url.Values{}
			for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "cache_size(-65536)", autockpt} {
				q.Add("_pragma", p)
			}
			path := filepath.Join(b.TempDir(), "ceiling.db")
			db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			for _, ddl := range []string{
				`CREATE TABLE events (id TEXT PRIMARY KEY, time INTEGER NOT NULL, received INTEGER NOT NULL,
					source TEXT NOT NULL, format TEXT NOT NULL, fields TEXT NOT NULL, raw BLOB NOT NULL)`,
				`CREATE INDEX events_received ON events (received)`,
			} {
				if _, err := db.Exec(ddl); err != nil {
					b.Fatal(err)
				}
			}
			ins, err := db.Prepare(`INSERT INTO events (id, time, received, source, format, fields, raw)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
			if err != nil {
				b.Fatal(err)
			}
			defer ins.Close()
			n := 0
			cpu0 := cpuTime()
			b.ReportAllocs()
			for b.Loop() {
				tx, err := db.Begin()
				if err != nil {
					b.Fatal(err)
				}
				st := tx.Stmt(ins)
				for range 2000 {
					i := n % len(evs)
					ev := evs[i]
					if _, err := st.Exec(strconv.Itoa(n/len(evs))+"-"+ev.ID, ev.Time.UnixMicro(), int64(n),
						ev.Source, ev.Format, fields[i], ev.Raw); err != nil {
						b.Fatal(err)
					}
					n++
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
			if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
				b.ReportMetric(float64(n)/cpu, "rows/cpu-s")
			}
			b.ReportMetric(float64(bytes)/float64(len(evs)), "bytes/row")
			if fi, err := os.Stat(path + "-wal"); err == nil && ckpt == "none" {
				// Everything written since the start is still in the WAL:
				// row pages, the id index's pages and their frame headers.
				b.ReportMetric(float64(fi.Size())/float64(n), "wal-bytes/row")
			}
		})
	}
}

// cpuTime is the user+system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
