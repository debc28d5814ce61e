package sqlite_test

import (
	"testing"

	"github.com/rampart-ids/rampart/internal/store/storetest"
)

func BenchmarkAppendEvents(b *testing.B) {
	storetest.BenchAppendEvents(b, open(b, b.TempDir()), 1000)
}

func BenchmarkRecordSignals(b *testing.B) {
	storetest.BenchRecordSignals(b, open(b, b.TempDir()), 100, 50)
}
