package flowscan

import (
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/rampart-ids/rampart/internal/ml/flow"
	"github.com/rampart-ids/rampart/internal/snapshot"
)

// snapshotVersion changes when the snapshot layout does.
const snapshotVersion = 2

// maxSnapshotBytes bounds what Restore reads (a reservoir of a million
// flows is about 150 MB).
const maxSnapshotBytes = 512 << 20

type state struct {
	Seen uint64
	RNG  []byte
	Ref  []flow.Flow
}

// Snapshot writes the learned reservoir (not the open window: a restart
// starts a new one) in the hashed snapshot framing the ML detectors share
// (internal/snapshot), so serve keeps what was learned.
func (d *Detector) Snapshot(w io.Writer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	rng, err := d.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("flowscan snapshot: %w", err)
	}
	return snapshot.Write(w, Kind, snapshotVersion, &state{Seen: d.seen, RNG: rng, Ref: d.ref})
}

// Restore replaces the reservoir with a snapshot's; a snapshot that does
// not verify (framing, hash, version, flows) is refused and the state is
// unchanged. A reservoir larger than Config.Reference is cut to it.
func (d *Detector) Restore(r io.Reader) error {
	var st state
	if err := snapshot.Read(r, Kind, snapshotVersion, maxSnapshotBytes, &st); err != nil {
		return fmt.Errorf("flowscan restore: %w", err)
	}
	for i := range st.Ref {
		if _, ok := validFlow(st.Ref[i]); !ok {
			return fmt.Errorf("flowscan restore: reference flow %d is invalid", i)
		}
	}
	pcg := rand.NewPCG(0, 0)
	if err := pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("flowscan restore: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(st.Ref) > d.cfg.Reference {
		st.Ref = st.Ref[:d.cfg.Reference]
	}
	d.ref, d.seen, d.pcg, d.rng = st.Ref, st.Seen, pcg, rand.New(pcg)
	return nil
}
