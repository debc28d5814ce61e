package anomaly

import (
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
)

// The memo must give what each kind's key function gives, including the
// cached lower-cased host across events with different hosts.
func TestEntitiesMemo(t *testing.T) {
	if entityKinds[hostKind].name != "host" {
		t.Fatalf("hostKind = %d is %q, want host", hostKind, entityKinds[hostKind].name)
	}
	var host [2]string
	for _, f := range []map[string]any{
		{"host.name": "LabSZ", "user.name": "Root", "source.ip": "1.2.3.4", "process.executable": "/usr/sbin/sshd"},
		{"host.name": "LabSZ", "user.name": "-"},
		{"host.hostname": "Other", "source.ip": "::ffff:10.0.0.1"},
		{"event.module": "windows", "user.name": "ADMIN", "host.name": "DC01", "process.executable": `C:\Windows\System32\LSASS.exe`},
		{},
	} {
		ev := event.New()
		for k, v := range f {
			ev.Set(k, v)
		}
		e := entities{ev: ev, host: &host}
		for i, k := range entityKinds {
			if got, want := e.get(i), k.key(ev); got != want {
				t.Errorf("%v: %s = %q, want %q", f, k.name, got, want)
			}
		}
	}
}
