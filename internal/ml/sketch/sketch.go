// Package sketch holds the small, fixed-size summaries Rampart's ML layer
// keeps per entity: a stable 64-bit string hash, a 128-bit linear counter
// for distinct counts within one window, and LRUSet, a capped hash table
// with least-recently-used eviction whose memory is fixed by its capacity.
//
// Everything here is deterministic across processes (no random seeds), so
// snapshots restored in another process keep the same keys.
package sketch

import (
	"math"
	"math/bits"
)

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// Hash is FNV-1a 64 over the parts, with a 0xff separator between them so
// ("ab","c") and ("a","bc") differ. Stable across processes and versions.
func Hash(parts ...string) uint64 {
	h := NewHasher()
	for _, p := range parts {
		h = h.Part(p)
	}
	return h.Sum()
}

// Hasher computes Hash incrementally, so a part made of pieces need not be
// concatenated first: NewHasher().Part(a).Append(b).Sum() == Hash(a+b).
type Hasher struct {
	h     uint64
	parts bool // a part was started: the next Part writes the separator
}

// NewHasher starts a Hash.
func NewHasher() Hasher { return Hasher{h: fnvOffset} }

// Part starts the next part with s.
func (h Hasher) Part(s string) Hasher {
	if h.parts {
		h.h ^= 0xff
		h.h *= fnvPrime
	}
	h.parts = true
	return h.Append(s)
}

// Append continues the current part with s.
func (h Hasher) Append(s string) Hasher {
	for j := 0; j < len(s); j++ {
		h.h ^= uint64(s[j])
		h.h *= fnvPrime
	}
	h.parts = true
	return h
}

// Sum finishes the hash.
func (h Hasher) Sum() uint64 {
	// FNV's low bits mix poorly for short keys; finish with a 64-bit mixer
	// (splitmix64's) so the bit chosen by Distinct is uniform.
	x := h.h
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Distinct estimates the number of distinct hashes added, by linear
// counting over 128 bits (16 bytes). It is exact-ish for small counts
// (relative error under ~5% up to 100) and saturates at about 620; it is
// meant for one entity's window ("distinct users from this address in 10
// minutes"), where a HyperLogLog's kilobytes per entity would break the
// per-entity memory budget.
type Distinct struct{ lo, hi uint64 }

// Add records hash h.
func (d *Distinct) Add(h uint64) {
	b := h & 127
	if b < 64 {
		d.lo |= 1 << b
	} else {
		d.hi |= 1 << (b - 64)
	}
}

// Estimate returns the estimated number of distinct hashes added.
func (d Distinct) Estimate() float64 {
	return estimates[bits.OnesCount64(d.lo)+bits.OnesCount64(d.hi)]
}

// estimates[set] is the estimate for set bits of 128: baselines score the
// distinct feature on every event, and a logarithm per event showed in
// profiles.
var estimates = func() (t [129]float64) {
	for set := 1; set <= 128; set++ {
		t[set] = estimate(set)
	}
	return t
}()

// estimate is the linear-counting estimate for set bits of 128 (> 0).
func estimate(set int) float64 {
	zero := 128 - set
	if zero == 0 {
		zero = 1 // saturated: report the largest estimate the sketch can give
	}
	return math.Round(-128 * math.Log(float64(zero)/128))
}

// Reset empties d.
func (d *Distinct) Reset() { *d = Distinct{} }

// Bits returns the raw state (snapshots).
func (d Distinct) Bits() (lo, hi uint64) { return d.lo, d.hi }

// DistinctFromBits rebuilds a Distinct from Bits.
func DistinctFromBits(lo, hi uint64) Distinct { return Distinct{lo, hi} }
