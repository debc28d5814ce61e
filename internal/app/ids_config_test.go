package app

import (
	"context"
	"testing"

	"github.com/rampart-ids/rampart/internal/config"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/signal"
)

// TestIDSConfigFromYAML: the serve config's rules.ids section reaches the
// ids detector. YAML decodes "2: critical" with an integer key, which the
// detector refused as a map of the wrong type before config normalized it.
func TestIDSConfigFromYAML(t *testing.T) {
	cfg, err := config.Parse("rampart.yaml", []byte("rules:\n  ids:\n    suricata_levels: {2: critical}\n    min_level: low\n"))
	if err != nil {
		t.Fatal(err)
	}
	eng, cleanup, err := BuildEngine(context.Background(), RuleSet{IDS: cfg.Rules.IDS, NoML: true})
	if err != nil {
		t.Fatalf("engine from config: %v", err)
	}
	defer cleanup()
	rec := []byte(`{"timestamp":"2023-03-10T08:15:07.000001+0000","flow_id":99001,"event_type":"alert","src_ip":"203.0.113.50","src_port":44221,"dest_ip":"10.1.1.5","dest_port":1433,"proto":"TCP","alert":{"action":"blocked","gid":1,"signature_id":2010935,"rev":4,"signature":"ET SCAN Suspicious inbound to MSSQL port 1433","category":"Potentially Bad Traffic","severity":2}}`)
	ev := event.New()
	if err := format.NewAuto(format.Options{}).Parse(rec, ev); err != nil {
		t.Fatal(err)
	}
	var got []signal.Signal
	eng.Process(context.Background(), ev, func(s signal.Signal) { got = append(got, s) })
	var ids []signal.Signal
	for _, s := range got {
		if s.Detector == "ids" {
			ids = append(ids, s)
		}
	}
	if len(ids) != 1 || ids[0].Level != signal.Level("critical") {
		t.Fatalf("ids signals %+v, want one at the configured level critical", ids)
	}

	if _, err := config.Parse("rampart.yaml", []byte("rules:\n  ids:\n    suricata_levels: {2: nonsense}\n")); err != nil {
		t.Fatalf("config parse should defer detector keys to the detector: %v", err)
	}
	bad, _ := config.Parse("rampart.yaml", []byte("rules:\n  ids:\n    suricata_levels: {2: nonsense}\n"))
	if _, _, err := BuildEngine(context.Background(), RuleSet{IDS: bad.Rules.IDS, NoML: true}); err == nil {
		t.Fatal("an unknown level in rules.ids was accepted")
	}
}
