package ocsf_test

import (
	"testing"

	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/format/ocsf"
)

func TestGolden(t *testing.T) { formattest.Golden(t, ocsf.Name) }

func TestParse(t *testing.T) {
	formattest.RunCases(t, ocsf.Name, []formattest.Case{
		{
			Name: "authentication failure",
			Recs: []string{`{"class_uid":3002,"category_uid":3,"activity_name":"Logon","status_id":2,"time":1700000000123,"user":{"name":"administrator"},"actor":{"user":{"name":"svc"}},"src_endpoint":{"ip":"198.51.100.23","port":51234}}`},
			Time: "2023-11-14T22:13:20.123Z",
			Want: map[string]any{"ocsf.class_uid": int64(3002), "ocsf.category_uid": int64(3), "event.dataset": "ocsf.3002",
				"event.module": "ocsf", "event.outcome": "failure", "event.action": "logon", "user.name": "administrator",
				"source.ip": "198.51.100.23", "source.port": int64(51234), "event.category": "iam", "ocsf.actor.user.name": "svc"},
		},
		{
			Name: "category from class",
			Recs: []string{`{"class_uid":4001,"time":1700000000}`},
			Time: "2023-11-14T22:13:20Z",
			Want: map[string]any{"ocsf.category_uid": int64(4), "event.category": "network"},
		},
		{
			Name: "process with hashes",
			Recs: []string{`{"class_uid":1007,"process":{"pid":7,"cmd_line":"x -y","file":{"path":"/bin/x","hashes":[{"algorithm_id":1,"value":"ABC"}]}}}`},
			Want: map[string]any{"process.pid": int64(7), "process.command_line": "x -y", "process.executable": "/bin/x", "file.hash.md5": nil},
		},
		{Name: "class not numeric", Recs: []string{`{"class_uid":"x"}`}, WantErr: "invalid_record"},
	})
}

func FuzzParse(f *testing.F) { formattest.Fuzz(f, ocsf.Name, "testdata/golden/ocsf.in") }

func BenchmarkParseOCSF(b *testing.B) { formattest.Bench(b, ocsf.Name, "testdata/golden/ocsf.in") }
