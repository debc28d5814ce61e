package anomaly

import (
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
)

// The memo must give what each kind's key function gives, including the
// cached lower-cased host and canonical address across events with different
// hosts and addresses, and the lower-case cache of Windows accounts and
// paths (each event twice, so the second read comes from the cache).
func TestEntitiesMemo(t *testing.T) {
	for i, want := range map[int]string{userKind: "user", hostKind: "host", ipKind: "ip", processKind: "process"} {
		if entityKinds[i].name != want {
			t.Fatalf("index %d is %q, want %s", i, entityKinds[i].name, want)
		}
	}
	var host, addr [2]string
	var lower lowerCache
	fields := []map[string]any{
		{"host.name": "LabSZ", "user.name": "Root", "source.ip": "1.2.3.4", "process.executable": "/usr/sbin/sshd"},
		{"host.name": "LabSZ", "user.name": "-"},
		{"host.hostname": "Other", "source.ip": "::ffff:10.0.0.1"},
		{"source.ip": "::ffff:10.0.0.1"},
		{"source.ip": " 1.2.3.4 "},
		{"source.ip": "1.2.3.4"},
		{"source.ip": "fe80::1%eth0"},
		{"source.ip": "not-an-address"},
		{"source.ip": "2001:DB8::1"},
		{"event.module": "windows", "user.name": "ADMIN", "host.name": "DC01", "process.executable": `C:\Windows\System32\LSASS.exe`},
		{"event.module": "windows", "user.name": "admin", "process.executable": `c:\windows\lsass.exe`},
		{"event.module": "linux", "user.name": "ADMIN", "process.executable": "/opt/App/Run"},
		{},
	}
	for _, f := range append(fields, fields...) {
		ev := event.New()
		for k, v := range f {
			ev.Set(k, v)
		}
		e := entities{ev: ev, host: &host, addr: &addr, lower: &lower}
		for i, k := range entityKinds {
			if got, want := e.get(i), k.key(ev); got != want {
				t.Errorf("%v: %s = %q, want %q", f, k.name, got, want)
			}
		}
	}
}
