// Package outputtest holds sample alerts for output tests: values chosen to
// exercise escaping (quotes, backslashes, brackets, pipes, equals signs,
// newlines, non-ASCII).
package outputtest

import (
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/signal"
)

// T0 is the event time of the sample alerts.
var T0 = time.Date(2026, 11, 27, 9, 30, 0, 123456789, time.UTC)

// Alerts returns two sample alerts; the second has hostile text everywhere.
func Alerts() []alert.Alert {
	return []alert.Alert{
		{
			ID: "a1b2c3", Detector: "ioc", Layer: signal.LayerRules, RuleID: "ioc:example", RuleVersion: "0123456789ab",
			Title: "Known-bad ip 192.0.2.66 (example)", Level: signal.LevelHigh, Score: 1,
			Entities:  []signal.Entity{{Kind: "ip", Value: "192.0.2.66"}, {Kind: "host", Value: "ws1"}},
			EntityKey: "host=ws1,ip=192.0.2.66", FirstSeen: T0, LastSeen: T0.Add(time.Minute), Count: 2,
			EventIDs: []string{"e1", "e2"}, Explanation: "destination.ip 192.0.2.66 matches ip indicator 192.0.2.66 from list example",
			Details: map[string]any{"indicator": "192.0.2.66", "field": "destination.ip"}, Status: alert.StatusOpen,
		},
		{
			ID: "d4e5f6", Detector: "sigma", Layer: signal.LayerRules, RuleID: `rule|with=odd"chars]`,
			Title: "Pipe | back\\slash = \"quote\" ]bracket\nnewline é", Level: signal.LevelCritical, Score: 0.5,
			Tags: []string{"attack.t1059.001"}, Techniques: []string{"T1059.001"},
			Entities:  []signal.Entity{{Kind: "user", Value: `DOM\adm=in`}, {Kind: "ip", Value: "2001:db8::1"}},
			FirstSeen: T0, LastSeen: T0, Count: 1, EventIDs: []string{"e3"},
			Explanation: "line1\r\nline2 | a=b \\ c ] \"q\"", Status: alert.StatusOpen,
		},
	}
}
