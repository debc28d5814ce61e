package baseline

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/snapshot"
)

// frame wraps payload in a correctly hashed snapshot header, so the fuzzer
// reaches the payload decoder and validation behind the hash check.
func frame(kind string, version uint32, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString(snapshot.Magic)
	binary.Write(&b, binary.BigEndian, uint16(len(kind)))
	b.WriteString(kind)
	binary.Write(&b, binary.BigEndian, version)
	binary.Write(&b, binary.BigEndian, uint64(len(payload)))
	b.Write(payload)
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// FuzzRestore feeds Restore arbitrary snapshot bytes (seeds in
// testdata/fuzz/FuzzRestore): it must refuse or restore a usable model,
// never panic. Inputs starting with 'P' are treated as payloads and framed
// with a valid hash first.
func FuzzRestore(f *testing.F) {
	m, _ := New(Config{Learning: time.Hour, MinHistory: 1})
	for i := 0; i < 50; i++ {
		m.Observe(Obs{Key: "u", Time: t0.Add(time.Duration(i) * 11 * time.Minute), Failure: i%3 == 0, Distinct: uint64(i), HasDistinct: true}, nil)
	}
	var buf bytes.Buffer
	if err := m.Snapshot(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(append([]byte{'P'}, buf.Bytes()[len(snapshot.Magic)+2+len("baseline")+4+8:buf.Len()-sha256.Size]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && data[0] == 'P' {
			data = frame("baseline", SnapshotVersion, data[1:])
		}
		r, _ := New(Config{Learning: time.Hour, MinHistory: 1})
		if err := r.Restore(bytes.NewReader(data)); err != nil {
			return
		}
		// A restored model keeps working and snapshots again.
		for i := 0; i < 5; i++ {
			for _, f := range r.Observe(Obs{Key: "u", Time: t0.Add(time.Duration(60+i) * 11 * time.Minute), Failure: true}, nil) {
				if f.Score < 0 || f.Score > 1 {
					t.Fatalf("score %v", f.Score)
				}
			}
		}
		var out bytes.Buffer
		if err := r.Snapshot(&out); err != nil {
			t.Fatal(err)
		}
	})
}
