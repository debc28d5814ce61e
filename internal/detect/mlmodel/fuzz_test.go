package mlmodel_test

import (
	"context"
	"sync"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect/mlmodel"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

var (
	fuzzOnce sync.Once
	fuzzDet  *mlmodel.Payload
)

// FuzzPayloadDetect feeds arbitrary query strings and bodies: the detector
// never panics, emits at most one signal per event, and every score is in [0,1].
func FuzzPayloadDetect(f *testing.F) {
	f.Add("q=1", "")
	f.Add("a=%zz&&=&b=%252e%252e%252f", "x=<script>")
	f.Add("", "{\"json\":true}")
	fuzzOnce.Do(func() {
		_, a := trainRegistry(f)
		d, err := mlmodel.NewPayload(mlmodel.PayloadOptions{Artifact: a})
		if err != nil {
			f.Fatal(err)
		}
		fuzzDet = d
	})
	f.Fuzz(func(t *testing.T, query, body string) {
		ev := event.New()
		ev.ID = "fuzz"
		ev.Set("url.query", query)
		ev.Set("http.request.body.content", body)
		n := 0
		err := fuzzDet.Detect(context.Background(), ev, func(s signal.Signal) {
			n++
			if s.Score < 0 || s.Score > 1 || s.Explanation == "" {
				t.Fatalf("bad signal: score %v explanation %q", s.Score, s.Explanation)
			}
		})
		if err != nil || n > 1 {
			t.Fatalf("err %v, %d signals", err, n)
		}
		// The fast path decides and explains exactly as the classifier.
		for _, s := range []string{query, body} {
			if err := fuzzDet.CheckFast(s); err != nil {
				t.Fatal(err)
			}
		}
	})
}
