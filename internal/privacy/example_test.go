package privacy_test

import (
	"fmt"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/privacy"
)

// fixedKeys are example keys (all-zero mapping key, epoch secret 1…32).
// Real keys come from privacy.OpenKeyFile.
const fixedKeys = `{"version":1,
 "mapping_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
 "epochs":[{"N":1,"Created":"2026-01-01T00:00:00Z","Secret":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="}]}`

// Example pseudonymizes an sshd event. The output doubles as a stability
// check: a change of the key derivation would change every pseudonym.
func Example() {
	keys, err := privacy.KeyStoreFromJSON([]byte(fixedKeys))
	if err != nil {
		panic(err)
	}
	p, err := privacy.New(privacy.Config{InternalNetworks: []string{"10.0.0.0/8"}}, keys)
	if err != nil {
		panic(err)
	}
	ev := event.New()
	ev.Set("user.name", "alice")
	ev.Set("source.ip", "10.1.2.3")
	ev.Set("destination.ip", "8.8.8.8")
	ev.Set("message", "Accepted password for alice from 10.1.2.3 port 22")
	ev.Raw = []byte("<38>sshd[42]: Accepted password for alice from 10.1.2.3 port 22")
	out := p.Event(ev)
	for _, f := range []string{"user.name", "source.ip", "destination.ip", "message"} {
		fmt.Printf("%s: %v\n", f, out.Fields[f])
	}
	fmt.Printf("raw: %q\n", out.Raw)
	// Prefix preservation: a neighbour in the same /24 stays in the same /24.
	fmt.Println(p.Value(privacy.KindIP, "10.1.2.4"))
	// Output:
	// user.name: u_1d4207e64e7d90a0bb31
	// source.ip: 10.241.5.3
	// destination.ip: 8.8.8.8
	// message: Accepted password for u_1d4207e64e7d90a0bb31 from 10.241.5.3 port 22
	// raw: ""
	// 10.241.5.7
}
