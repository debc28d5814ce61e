package eve_test

import (
	"testing"

	"github.com/rampart-ids/rampart/internal/format/eve"
	"github.com/rampart-ids/rampart/internal/format/formattest"
)

func TestGolden(t *testing.T) { formattest.Golden(t, eve.Name) }

func TestParse(t *testing.T) {
	formattest.RunCases(t, eve.Name, []formattest.Case{
		{
			Name: "alert",
			Recs: []string{`{"timestamp":"2017-04-07T22:24:37.251547+0100","flow_id":5,"event_type":"alert","src_ip":"192.168.2.14","src_port":50096,"dest_ip":"209.53.113.5","dest_port":80,"proto":"TCP","alert":{"action":"allowed","signature_id":2018358,"signature":"ET X","category":"C","severity":2}}`},
			Time: "2017-04-07T21:24:37.251547Z",
			Want: map[string]any{"rule.id": "2018358", "rule.name": "ET X", "message": "ET X", "event.kind": "alert",
				"event.severity": int64(2), "suricata.eve.alert.signature_id": int64(2018358), "suricata.eve.event_type": "alert",
				"source.ip": "192.168.2.14", "source.port": int64(50096), "destination.port": int64(80), "network.transport": "tcp",
				"event.dataset": "suricata.eve", "event.module": "suricata"},
		},
		{
			Name: "dns v3 queries",
			Recs: []string{`{"timestamp":"2023-02-01T10:00:00Z","event_type":"dns","src_ip":"10.0.0.5","dest_ip":"10.0.0.1","dns":{"queries":[{"rrname":"a.example","rrtype":"TXT"}]}}`},
			Want: map[string]any{"dns.question.name": "a.example", "dns.question.type": "TXT", "suricata.eve.dns.queries.rrname": []string{"a.example"}},
		},
		{
			Name: "http",
			Recs: []string{`{"timestamp":"2023-02-01T10:00:00Z","event_type":"http","http":{"hostname":"h","url":"/p?q=1","http_method":"GET","status":404,"http_user_agent":"ua"}}`},
			Want: map[string]any{"url.domain": "h", "url.path": "/p", "url.query": "q=1", "http.request.method": "GET", "http.response.status_code": int64(404), "user_agent.original": "ua"},
		},
		{Name: "no event_type", Recs: []string{`{"timestamp":"2023-02-01T10:00:00Z"}`}, WantErr: "invalid_record"},
		{Name: "bad json", Recs: []string{`{"event_type":`}, WantErr: "invalid_json"},
	})
}

func FuzzParse(f *testing.F) { formattest.Fuzz(f, eve.Name, "testdata/golden/eve.in") }

func BenchmarkParseEVE(b *testing.B) { formattest.Bench(b, eve.Name, "testdata/golden/eve.in") }
