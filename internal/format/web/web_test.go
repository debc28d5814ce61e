package web_test

import (
	"testing"

	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/format/web"
)

func TestGolden(t *testing.T) { formattest.Golden(t, web.Name) }

func TestParse(t *testing.T) {
	formattest.RunCases(t, web.Name, []formattest.Case{
		{
			Name: "combined",
			Recs: []string{`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08"`},
			Time: "2000-10-10T20:55:36Z",
			Want: map[string]any{"source.ip": "127.0.0.1", "user.name": "frank", "http.request.method": "GET", "url.original": "/a.gif?x=1",
				"url.path": "/a.gif", "url.query": "x=1", "http.version": "1.0", "http.response.status_code": int64(200),
				"http.response.body.bytes": int64(2326), "http.request.referrer": "http://ref/", "user_agent.original": "Mozilla/4.08",
				"event.dataset": "web.access", "event.module": "web", "event.category": "web", "event.outcome": "success"},
		},
		{
			Name: "common, no size",
			Recs: []string{`10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "DELETE /x HTTP/1.1" 404 -`},
			Want: map[string]any{"http.request.method": "DELETE", "event.outcome": "failure", "http.response.body.bytes": nil, "user.name": nil},
		},
		{
			Name: "escaped quote in agent",
			Recs: []string{`10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "a \"b\" c"`},
			Want: map[string]any{"user_agent.original": `a "b" c`, "http.request.referrer": nil},
		},
		{Name: "bad status", Recs: []string{`10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" x 1`}, WantErr: "invalid_access_log"},
		{Name: "unterminated", Recs: []string{`10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1 200 1`}, WantErr: "invalid_access_log"},
		{Name: "no time", Recs: []string{`hello world`}, WantErr: "invalid_access_log"},
	})
}

func FuzzParse(f *testing.F) { formattest.Fuzz(f, web.Name, "testdata/golden/access.in") }

func BenchmarkParseWeb(b *testing.B) { formattest.Bench(b, web.Name, "testdata/golden/access.in") }
