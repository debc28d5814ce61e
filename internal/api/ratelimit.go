package api

import (
	"time"

	"golang.org/x/time/rate"
)

// limitPolicy is the budget of one key in a keyLimits table: burst calls at
// once, then limit a second; keys bounds how many keys the table holds.
type limitPolicy struct {
	limit rate.Limit
	burst int
	keys  int
}

// keyLimits is a bounded table of per-key rate limiters (console logins per
// client address; re-identification and ingest per token). The caller holds
// the lock that guards it; the zero value is ready.
type keyLimits map[string]*keyLimit

// keyLimit is one key's limiter; refused says its last call was refused, so
// a run of refusals is reported once.
type keyLimit struct {
	lim     *rate.Limiter
	refused bool
}

// allow takes one call from key's budget at now; when none is left it
// returns false, how long until the next one, and whether this is the first
// refusal of a run. A full table forgets the keys whose budget is whole
// again (they lose nothing); if none is, a new key is refused rather than
// the table growing or a spent budget being reset.
func (t *keyLimits) allow(p limitPolicy, key string, now time.Time) (ok bool, wait time.Duration, first bool) {
	if *t == nil {
		*t = keyLimits{}
	}
	b, found := (*t)[key]
	if !found {
		if len(*t) >= p.keys {
			for k, x := range *t {
				if x.lim.TokensAt(now) >= float64(p.burst) {
					delete(*t, k)
				}
			}
			if len(*t) >= p.keys {
				return false, time.Duration(float64(time.Second) / float64(p.limit)), false // fail closed
			}
		}
		b = &keyLimit{lim: rate.NewLimiter(p.limit, p.burst)}
		(*t)[key] = b
	}
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		first = !b.refused
		b.refused = true
		return false, d, first
	}
	b.refused = false
	return true, 0, false
}
