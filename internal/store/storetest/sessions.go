package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/store"
)

// testSessions: console sessions round-trip, conflict on a reused id hash,
// are touched and deleted (both idempotent), and expire by idle time or by
// age.
func testSessions(t *testing.T, s store.Store) {
	ss, ok := s.(store.SessionStore)
	if !ok {
		t.Fatalf("%T does not implement store.SessionStore", s)
	}
	ctx := ctxFor(t)
	a := store.Session{IDHash: "h-a", TokenHash: "tok1", CSRF: "c-a", Created: base.Add(123456789), LastSeen: base.Add(time.Minute)}
	b := store.Session{IDHash: "h-b", TokenHash: "tok1", CSRF: "c-b", Created: base.Add(-13 * time.Hour), LastSeen: base}
	c := store.Session{IDHash: "h-c", TokenHash: "tok2", CSRF: "c-c", Created: base, LastSeen: base.Add(-31 * time.Minute)}
	for _, x := range []store.Session{a, b, c} {
		if err := ss.CreateSession(ctx, x); err != nil {
			t.Fatalf("CreateSession(%s): %v", x.IDHash, err)
		}
	}
	if err := ss.CreateSession(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second CreateSession(h-a) = %v, want ErrConflict", err)
	}
	if err := ss.CreateSession(ctx, store.Session{IDHash: "h-x", TokenHash: "tok1"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CreateSession without csrf = %v, want ErrInvalid", err)
	}
	got, err := ss.GetSession(ctx, "h-a")
	if err != nil {
		t.Fatal(err)
	}
	want := a
	want.Created = a.Created.Truncate(time.Microsecond)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetSession(h-a) (-want +got):\n%s", diff)
	}
	if _, err := ss.GetSession(ctx, "h-none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(unknown) = %v, want ErrNotFound", err)
	}
	if err := ss.TouchSession(ctx, "h-c", base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := ss.TouchSession(ctx, "h-none", base); err != nil {
		t.Errorf("TouchSession(unknown) = %v, want nil", err)
	}
	if got, _ := ss.GetSession(ctx, "h-c"); !got.LastSeen.Equal(base.Add(2 * time.Minute)) {
		t.Errorf("h-c last seen %v after the touch", got.LastSeen)
	}
	// Idle before base-30m or created before base-12h: only h-b (h-c was touched).
	n, err := ss.DeleteSessionsBefore(ctx, base.Add(-30*time.Minute), base.Add(-12*time.Hour))
	if err != nil || n != 1 {
		t.Errorf("DeleteSessionsBefore = %d, %v; want 1", n, err)
	}
	if _, err := ss.GetSession(ctx, "h-b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired h-b still there: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := ss.DeleteSession(ctx, "h-a"); err != nil {
			t.Errorf("DeleteSession(h-a) #%d: %v", i+1, err)
		}
	}
	if _, err := ss.GetSession(ctx, "h-a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted h-a still there: %v", err)
	}
	if _, err := ss.GetSession(ctx, "h-c"); err != nil {
		t.Errorf("h-c gone: %v", err)
	}
}
