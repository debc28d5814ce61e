package flowscan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/rampart-ids/rampart/internal/ml/flow"
)

// snapshotVersion changes when the snapshot layout does.
const snapshotVersion = 1

// maxSnapshotBytes bounds what Restore reads (a reservoir of a million
// flows is about 200 MB of JSON).
const maxSnapshotBytes = 512 << 20

type snapshot struct {
	Version int         `json:"version"`
	Seen    uint64      `json:"seen"`
	RNG     []byte      `json:"rng"`
	Ref     []flow.Flow `json:"reference"`
}

type envelope struct {
	SHA256 string          `json:"sha256"`
	State  json.RawMessage `json:"state"`
}

// Snapshot writes the learned reservoir (not the open window: a restart
// starts a new one) with its SHA-256, so serve keeps what was learned.
func (d *Detector) Snapshot(w io.Writer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	rng, err := d.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("flowscan snapshot: %w", err)
	}
	st, err := json.Marshal(snapshot{Version: snapshotVersion, Seen: d.seen, RNG: rng, Ref: d.ref})
	if err != nil {
		return fmt.Errorf("flowscan snapshot: %w", err)
	}
	sum := sha256.Sum256(st)
	if err := json.NewEncoder(w).Encode(envelope{SHA256: hex.EncodeToString(sum[:]), State: st}); err != nil {
		return fmt.Errorf("flowscan snapshot: %w", err)
	}
	return nil
}

// Restore replaces the reservoir with a snapshot's; a snapshot that does
// not verify (hash, version, flows) is refused and the state is unchanged.
// A reservoir larger than Config.Reference is cut to it.
func (d *Detector) Restore(r io.Reader) error {
	raw, err := io.ReadAll(io.LimitReader(r, maxSnapshotBytes+1))
	if err != nil {
		return fmt.Errorf("flowscan restore: %w", err)
	}
	if len(raw) > maxSnapshotBytes {
		return errors.New("flowscan restore: snapshot larger than 512 MiB")
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("flowscan restore: %w", err)
	}
	sum := sha256.Sum256(env.State)
	if hex.EncodeToString(sum[:]) != env.SHA256 {
		return errors.New("flowscan restore: snapshot hash does not match its state")
	}
	var st snapshot
	dec := json.NewDecoder(bytes.NewReader(env.State))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("flowscan restore: %w", err)
	}
	if st.Version != snapshotVersion {
		return fmt.Errorf("flowscan restore: snapshot version %d, want %d", st.Version, snapshotVersion)
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
