package ecs_test

import (
	"testing"

	"github.com/rampart-ids/rampart/internal/format/ecs"
	"github.com/rampart-ids/rampart/internal/format/formattest"
)

func TestGolden(t *testing.T) { formattest.Golden(t, ecs.Name) }

func TestParse(t *testing.T) {
	formattest.RunCases(t, ecs.Name, []formattest.Case{
		{
			Name: "nested and dotted agree",
			Recs: []string{`{"@timestamp":"2023-05-01T12:00:00Z","source":{"ip":"10.0.0.7","port":"50123"},"user.name":"alice","event":{"code":4625}}`},
			Time: "2023-05-01T12:00:00Z",
			Want: map[string]any{"source.ip": "10.0.0.7", "source.port": int64(50123), "user.name": "alice", "event.code": "4625",
				"event.module": "ecs", "event.dataset": "ecs", "related.ip": []string{"10.0.0.7"}},
		},
		{
			Name: "module kept, arrays",
			Recs: []string{`{"event":{"module":"nginx","dataset":"nginx.access","category":["web"]},"tags":["a","b"],"n":1.5,"ok":true}`},
			Want: map[string]any{"event.module": "nginx", "event.dataset": "nginx.access", "event.category": []string{"web"},
				"tags": []string{"a", "b"}, "n": 1.5, "ok": true},
		},
		{Name: "not an object", Recs: []string{`[1]`}, WantErr: "invalid_record"},
		{Name: "bad json", Recs: []string{`{"a":}`}, WantErr: "invalid_json"},
	})
}

func FuzzParse(f *testing.F) { formattest.Fuzz(f, ecs.Name, "testdata/golden/ecs.in") }

func BenchmarkParseECS(b *testing.B) { formattest.Bench(b, ecs.Name, "testdata/golden/ecs.in") }
