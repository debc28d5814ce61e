package api

import (
	"fmt"
	"testing"
	"time"
)

// TestLoginTableBounded: the per-client login table never grows past
// maxLoginClients. When it is full, clients whose budget is whole again
// are forgotten (they lose nothing); if none is, a new client is refused
// rather than the table growing or an active client's spent budget being
// reset (which would hand a guessing client a fresh burst).
func TestLoginTableBounded(t *testing.T) {
	ss := newSessions(nil)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for i := range maxLoginClients {
		if ok, _, _ := ss.allowLogin(fmt.Sprintf("10.%d.%d.1", i/256, i%256), now); !ok {
			t.Fatalf("client %d refused before the table was full", i)
		}
	}
	if ok, wait, _ := ss.allowLogin("192.0.2.1", now); ok || wait <= 0 {
		t.Fatalf("new client with a full table of active clients: ok %v wait %v, want refused", ok, wait)
	}
	if len(ss.logins) != maxLoginClients {
		t.Fatalf("table holds %d clients, want %d", len(ss.logins), maxLoginClients)
	}
	// One attempt each comes back after loginEvery: every budget is whole
	// again, so the table is cleared for the newcomer.
	now = now.Add(loginEvery)
	if ok, _, _ := ss.allowLogin("192.0.2.1", now); !ok {
		t.Fatal("new client refused although every other budget was whole again")
	}
	if len(ss.logins) != 1 {
		t.Errorf("table holds %d clients after the sweep, want 1", len(ss.logins))
	}
}
