package demo

import (
	"time"

	"github.com/rampart-ids/rampart/internal/ingest"
)

// OrdinaryAt exposes one batch of ordinary activity at t to the tests.
func (g *Generator) OrdinaryAt(t time.Time) []ingest.Record { return g.ordinary(nil, t) }
