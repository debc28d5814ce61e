// Package authtest loads the shared real sshd sample for tests and
// benchmarks of the detectors that sshd logs feed.
package authtest

import (
	"path/filepath"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/auth" // registers "auth"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// LoghubOpenSSH decodes Loghub's OpenSSH_2k.log with the auth format, RFC
// 3164 timestamps read in year. Records the parser refuses are skipped (the
// format's own tests account for them); it fails tb when fewer than 1,000
// events come out, and skips it when the shared data is absent.
func LoghubOpenSSH(tb testing.TB, year int) []*event.Event {
	tb.Helper()
	path := filepath.Join(testutil.SharedData(tb, "loghub-2k"), "OpenSSH", "OpenSSH_2k.log")
	evs, _ := formattest.FileEvents(tb, path, format.DecoderOptions{Format: "auth", Parse: format.Options{Year: year}})
	if len(evs) < 1000 {
		tb.Fatalf("%s: only %d sshd events parsed", path, len(evs))
	}
	return evs
}
