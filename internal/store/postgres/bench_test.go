package postgres_test

import (
	"testing"

	"github.com/rampart-ids/rampart/internal/store/storetest"
)

func BenchmarkAppendEvents(b *testing.B) {
	storetest.BenchAppendEvents(b, open(b), 1000)
}

func BenchmarkRecordSignals(b *testing.B) {
	storetest.BenchRecordSignals(b, open(b), 100, 50)
}

// BenchmarkAppendEventsReal appends real Windows events (shared data) in batches of 1000.
func BenchmarkAppendEventsReal(b *testing.B) {
	evs := storetest.RealEvents(b, 20000)
	storetest.BenchAppendBatches(b, open(b), evs, 1000)
}
