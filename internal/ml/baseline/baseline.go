// Package baseline keeps streaming, per-entity behavioural baselines on
// event time: for each entity (a user, host, address, process) and each
// fixed window (default 10 minutes) it counts events, failures and distinct
// counterparts, keeps the last History windows and an hour-of-day EWMA, and
// scores the current window by a robust z-score against them:
//
//	expected = max(median of recent windows, EWMA of this hour of day)
//	scale    = max(1.4826·MAD, sqrt(expected+1))   // Poisson floor when MAD is 0
//	z        = (value − expected) / scale
//
// Thresholds are not constants: the z of every closed window of a mature
// entity goes into a histogram per (entity kind, feature), and the threshold
// is the smallest z whose exceedances stay within the false-positive budget
// (Config.Budget alerts per entity-day, shared by the features). Windows
// that fired, and events the caller marks as not learnable, do not shape the
// baseline; no entity may supply more than Config.MaxShare of a histogram.
//
// Memory is bounded: at most Config.MaxEntities entities (least recently
// seen evicted), each a fixed-size record (see BytesPerEntity). Everything
// depends only on event times and order, so a replay gives the same
// findings, and Snapshot/Restore carry the state across restarts.
package baseline

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/sketch"
	"github.com/rampart-ids/rampart/internal/snapshot"
)

// History is the number of closed windows kept per entity and feature.
const History = 32

// Features scored per entity.
const (
	FeatEvents = iota
	FeatFailures
	FeatDistinct
	NumFeatures
)

// FeatureNames are the feature names used in findings' details.
var FeatureNames = [NumFeatures]string{"events", "failures", "distinct"}

const (
	binWidth = 0.25
	nBins    = 400 // z in [0,100); the last bin also takes larger z
	chunk    = 4096
	// hourScale: the hour-of-day EWMA is kept in eighths of an event in a
	// uint16 (it saturates at 8191 events per window) to save 48 bytes an entity.
	hourScale = 8
)

// Config tunes a Model. Zero values take the defaults in brackets.
type Config struct {
	Window      time.Duration // window length [10m]
	Learning    time.Duration // event time after the first event before anything fires [24h]
	MaxEntities int           // entities kept; least recently seen evicted [1<<20]
	MinHistory  int           // windows since an entity was first seen before it is scored [12]
	Budget      float64       // target alerts per entity-day over all features [0.01]
	MinZ        float64       // lowest threshold a sparse histogram may yield [3]
	MaxShare    float64       // largest share of a histogram one entity may supply [0.01]
	SeasonAlpha float64       // EWMA weight of each new window in its hour-of-day slot [0.3]
	Kinds       int           // entity kinds, calibrated separately [1]
}

func (c *Config) defaults() error {
	if c.Window <= 0 {
		c.Window = 10 * time.Minute
	}
	if c.Window < time.Second || c.Window > 24*time.Hour {
		return fmt.Errorf("baseline: window %v outside [1s, 24h]", c.Window)
	}
	if c.Learning < 0 {
		return fmt.Errorf("baseline: negative learning period")
	}
	if c.Learning == 0 {
		c.Learning = 24 * time.Hour
	}
	if c.MaxEntities <= 0 {
		c.MaxEntities = 1 << 20
	}
	if c.MaxEntities > 1<<30 {
		return fmt.Errorf("baseline: max entities %d over 2^30", c.MaxEntities)
	}
	if c.MinHistory <= 0 {
		c.MinHistory = 12
	}
	if c.MinHistory > History {
		return fmt.Errorf("baseline: min history %d over %d windows", c.MinHistory, History)
	}
	if c.Budget <= 0 {
		c.Budget = 0.01
	}
	if c.MinZ <= 0 {
		c.MinZ = 3
	}
	if c.MaxShare <= 0 || c.MaxShare > 1 {
		c.MaxShare = 0.01
	}
	if c.SeasonAlpha <= 0 || c.SeasonAlpha > 1 {
		c.SeasonAlpha = 0.3
	}
	if c.Kinds <= 0 {
		c.Kinds = 1
	}
	if c.Kinds > 255 {
		return fmt.Errorf("baseline: %d kinds over 255", c.Kinds)
	}
	return nil
}

// Obs is one event as the baseline sees it.
type Obs struct {
	Kind int    // entity kind, < Config.Kinds
	Key  string // entity key, unique within the kind
	Time time.Time
	// Failure: the event's outcome was a failure.
	Failure bool
	// Distinct, when HasDistinct, is the hash of the counterpart counted
	// for the distinct feature (sketch.Hash of a source address, a user…).
	Distinct    uint64
	HasDistinct bool
	// NoLearn: score the event but keep it out of the baseline
	// (events tied to alerts or malicious verdicts; see issue 4).
	NoLearn bool
}

// Finding is one feature of one entity's current window over its threshold.
type Finding struct {
	Kind        int
	Key         string
	Feature     int
	Value       float64 // the feature in the current window so far
	Median, MAD float64 // over the last History windows
	Seasonal    float64 // EWMA for this hour of day; NaN when not yet seen
	Expected    float64
	Z           float64
	Threshold   float64
	Score       float64 // in [0,1]; 0.5 at the threshold
	WindowStart time.Time
	Window      time.Duration
	History     int // closed windows behind the median
}

// Ratio is Value/Median, or Value/Expected when the median is 0 (0 if both are).
func (f Finding) Ratio() float64 {
	switch {
	case f.Median > 0:
		return f.Value / f.Median
	case f.Expected > 0:
		return f.Value / f.Expected
	}
	return 0
}

// Stats counts what a Model did.
type Stats struct {
	Entities    int
	Evicted     uint64
	Late        uint64 // events older than their entity's current window: not scored or learned
	NoTime      uint64 // observations without an event time
	Findings    uint64
	Calibration uint64 // closed windows in the histograms
	ShareCapped uint64 // closed windows kept out of a histogram by MaxShare
	NotLearned  uint64 // observations marked NoLearn
}

// entity is a fixed-size record; exported fields so snapshots can gob it.
type entity struct {
	Key       string
	Kind      uint8
	Fired     uint8     // bit per feature: reported in the current window
	NWin      uint8     // windows closed since first seen (saturates at History)
	Pos       uint8     // next ring slot
	Win       int32     // current window index (unix time / Window)
	LastDay   int32     // last day counted into entity-days
	Cur       [2]uint32 // events, failures in the current window (all)
	Learn     [2]uint32 // the same, learnable events only
	DistAll   [2]uint64 // sketch.Distinct bits, all events
	DistLearn [2]uint64 // learnable events
	Ring      [NumFeatures][History]uint16
	Med, MAD  [NumFeatures]float32
	Hour      [24]uint16 // EWMA of events per window per hour of day (UTC), in 1/hourScale units
	HourSeen  uint32
	Contrib   uint32 // windows this entity put into the histograms
	prev      int32
	next      int32
}

type calib struct {
	Bins       [NumFeatures][nBins]uint64
	Windows    uint64
	EntityDays uint64
	Thr        [NumFeatures]float64
}

// Model is a set of per-entity baselines. Not safe for concurrent use.
type Model struct {
	cfg        Config
	idx        map[string]int32
	chunks     [][]entity
	n          int32
	head, tail int32
	cal        []calib
	first      time.Time // first event time seen
	learnEnd   time.Time // first + Learning: the end of the learning period
	globalWin  int32     // latest window seen over all entities
	kbuf       []byte
	last       []int32 // per kind, the entity seen last: streams repeat entities
	// stale marks kinds whose histogram changed since their thresholds were
	// set: recalibrate, run at every new window, skips the others.
	stale []bool
	stats Stats
}

// New returns an empty model.
func New(cfg Config) (*Model, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg, idx: map[string]int32{}, head: -1, tail: -1, cal: make([]calib, cfg.Kinds), last: make([]int32, cfg.Kinds), globalWin: math.MinInt32}
	m.stale = make([]bool, cfg.Kinds)
	for k := range m.last {
		m.last[k] = -1
		m.stale[k] = true // restored thresholds may come from another budget
	}
	for k := range m.cal {
		for f := range m.cal[k].Thr {
			m.cal[k].Thr[f] = math.Inf(1)
		}
	}
	return m, nil
}

// Config returns the effective configuration.
func (m *Model) Config() Config { return m.cfg }

// Stats returns counters.
func (m *Model) Stats() Stats { s := m.stats; s.Entities = len(m.idx); return s }

// Threshold returns the current z threshold of a kind and feature
// (+Inf before any window of that kind was calibrated).
func (m *Model) Threshold(kind, feature int) float64 { return m.cal[kind].Thr[feature] }

// Learning reports whether t is still inside the learning period.
func (m *Model) Learning(t time.Time) bool {
	return m.first.IsZero() || t.Before(m.learnEnd)
}

// setFirst sets the first event time and the learning period's end with it
// (Learning is asked on every observation: the sum is kept, not redone).
func (m *Model) setFirst(t time.Time) {
	m.first, m.learnEnd = t, t.Add(m.cfg.Learning)
}

func (m *Model) at(i int32) *entity { return &m.chunks[i/chunk][i%chunk] }

// Observe adds one observation and appends the findings it raises to out.
// An entity fires at most once per window: the first observation that puts
// any feature over its threshold reports every feature over it then.
func (m *Model) Observe(o Obs, out []Finding) []Finding {
	if o.Time.IsZero() {
		m.stats.NoTime++
		return out
	}
	if o.Kind < 0 || o.Kind >= m.cfg.Kinds {
		return out
	}
	if m.first.IsZero() || o.Time.Before(m.first) {
		m.setFirst(o.Time)
	}
	w := m.windowOf(o.Time)
	if w > m.globalWin {
		m.globalWin = w
		m.recalibrate()
	}
	e := m.entity(o.Kind, o.Key, w)
	if w < e.Win {
		m.stats.Late++
		return out
	}
	if w > e.Win {
		m.roll(e, w)
	}
	var da, dl sketch.Distinct
	da = sketch.DistinctFromBits(e.DistAll[0], e.DistAll[1])
	dl = sketch.DistinctFromBits(e.DistLearn[0], e.DistLearn[1])
	e.Cur[FeatEvents] = satAdd(e.Cur[FeatEvents])
	if o.Failure {
		e.Cur[FeatFailures] = satAdd(e.Cur[FeatFailures])
	}
	if o.HasDistinct {
		da.Add(o.Distinct)
	}
	if o.NoLearn {
		m.stats.NotLearned++
	} else {
		e.Learn[FeatEvents] = satAdd(e.Learn[FeatEvents])
		if o.Failure {
			e.Learn[FeatFailures] = satAdd(e.Learn[FeatFailures])
		}
		if o.HasDistinct {
			dl.Add(o.Distinct)
		}
	}
	e.DistAll[0], e.DistAll[1] = da.Bits()
	e.DistLearn[0], e.DistLearn[1] = dl.Bits()
	if int(e.NWin) < m.cfg.MinHistory || m.Learning(o.Time) || e.Fired != 0 {
		return out
	}
	vals := [NumFeatures]float64{float64(e.Cur[FeatEvents]), float64(e.Cur[FeatFailures]), da.Estimate()}
	for f := 0; f < NumFeatures; f++ {
		thr := m.cal[o.Kind].Thr[f]
		z, exp, seas := m.z(e, f, vals[f], w)
		if z < thr {
			continue
		}
		e.Fired |= 1 << f
		m.stats.Findings++ // every feature over its threshold now; the window then stays quiet
		out = append(out, Finding{
			Kind: o.Kind, Key: o.Key, Feature: f, Value: vals[f],
			Median: float64(e.Med[f]), MAD: float64(e.MAD[f]), Seasonal: seas, Expected: exp,
			Z: z, Threshold: thr, Score: 1 - math.Exp2(-z/thr),
			WindowStart: time.Unix(int64(w)*int64(m.cfg.Window/time.Second), 0).UTC(),
			Window:      m.cfg.Window, History: int(e.NWin),
		})
	}
	return out
}

func satAdd(v uint32) uint32 {
	if v == math.MaxUint32 {
		return v
	}
	return v + 1
}

func (m *Model) windowOf(t time.Time) int32 {
	return int32(t.Unix() / int64(m.cfg.Window/time.Second))
}

func (m *Model) hourOf(w int32) int {
	return int((int64(w) * int64(m.cfg.Window/time.Second) / 3600) % 24)
}

// z scores value v of feature f against e's baseline for window w.
func (m *Model) z(e *entity, f int, v float64, w int32) (z, expected, seasonal float64) {
	expected = float64(e.Med[f])
	seasonal = math.NaN()
	if f == FeatEvents {
		if h := m.hourOf(w); e.HourSeen&(1<<h) != 0 {
			seasonal = float64(e.Hour[h]) / hourScale
			expected = max(expected, seasonal)
		}
	}
	scale := max(1.4826*float64(e.MAD[f]), math.Sqrt(expected+1))
	return (v - expected) / scale, expected, seasonal
}

// entity finds or creates the record for (kind, key), marking it most recent.
func (m *Model) entity(kind int, key string, w int32) *entity {
	// The kind's last entity again (a stream's one host, a burst of one
	// user) skips the map; its record still holds the key, so a slot that
	// was evicted and reused since fails the comparison.
	if i := m.last[kind]; i >= 0 {
		if e := m.at(i); len(e.Key) == len(key)+1 && e.Key[1:] == key && int(e.Key[0]) == kind {
			m.moveFront(i)
			return e
		}
	}
	// A kind byte prefix keeps keys of kinds apart; the lookup through
	// string(kbuf) does not allocate.
	m.kbuf = append(append(m.kbuf[:0], byte(kind)), key...)
	if i, ok := m.idx[string(m.kbuf)]; ok {
		m.last[kind] = i
		m.moveFront(i)
		return m.at(i)
	}
	k := string(m.kbuf)
	var i int32
	if int(m.n) < m.cfg.MaxEntities {
		m.grow()
		i = m.n
		m.n++
	} else {
		i = m.tail
		m.unlink(i)
		delete(m.idx, m.at(i).Key)
		m.stats.Evicted++
	}
	e := m.at(i)
	*e = entity{Key: k, Kind: uint8(kind), Win: w, LastDay: -1, prev: -1, next: -1}
	m.pushFront(i)
	m.idx[k] = i
	m.last[kind] = i
	return e
}

// grow makes room for entity m.n. Chunks after the first are allocated
// whole; the first grows by doubling, so a small deployment (or a fresh
// node) does not pay for 4096 records up front. Growing moves the first
// chunk: callers hold entity pointers only until the next entity call.
func (m *Model) grow() {
	c := int(m.n) / chunk
	if c >= len(m.chunks) {
		size := chunk
		if c == 0 {
			size = 64
		}
		m.chunks = append(m.chunks, make([]entity, 0, size))
	}
	ch := &m.chunks[c]
	if len(*ch) == cap(*ch) {
		grown := make([]entity, len(*ch), min(2*cap(*ch), chunk))
		copy(grown, *ch)
		*ch = grown
	}
	*ch = append(*ch, entity{})
}

// roll closes e's current window and any empty windows up to w.
func (m *Model) roll(e *entity, w int32) {
	dl := sketch.DistinctFromBits(e.DistLearn[0], e.DistLearn[1])
	closed := [NumFeatures]float64{float64(e.Learn[FeatEvents]), float64(e.Learn[FeatFailures]), dl.Estimate()}
	// Calibrate on the closed window as it was learned, unless it fired:
	// an attack window must not widen the threshold that should catch it.
	if int(e.NWin) >= m.cfg.MinHistory && e.Fired == 0 {
		m.calibrate(e, closed, e.Win)
	}
	m.pushRing(e, closed)
	if e.Fired == 0 {
		// The EWMA is not robust: a window that fired must not raise it.
		m.season(e, closed[FeatEvents], e.Win)
	}
	gap := int64(w) - int64(e.Win) - 1
	perDay := int64(24 * time.Hour / m.cfg.Window)
	for i := max(1, gap-max(History, perDay)+1); i <= gap; i++ {
		win := e.Win + int32(i)
		if i > gap-History {
			m.pushRing(e, [NumFeatures]float64{})
		}
		if i > gap-perDay {
			m.season(e, 0, win)
		}
	}
	for f := 0; f < NumFeatures; f++ {
		e.Med[f], e.MAD[f] = medMAD(e, f)
	}
	e.Win, e.Fired = w, 0
	e.Cur, e.Learn, e.DistAll, e.DistLearn = [2]uint32{}, [2]uint32{}, [2]uint64{}, [2]uint64{}
}

func (m *Model) pushRing(e *entity, v [NumFeatures]float64) {
	for f := 0; f < NumFeatures; f++ {
		e.Ring[f][e.Pos] = uint16(min(v[f], math.MaxUint16))
	}
	e.Pos = (e.Pos + 1) % History
	if e.NWin < History {
		e.NWin++
	}
}

func (m *Model) season(e *entity, v float64, w int32) {
	h := m.hourOf(w)
	if e.HourSeen&(1<<h) != 0 {
		a := m.cfg.SeasonAlpha
		v = (1-a)*float64(e.Hour[h])/hourScale + a*v
	}
	e.Hour[h] = uint16(min(math.Round(v*hourScale), math.MaxUint16))
	e.HourSeen |= 1 << h
}

// medMAD works on integers (twice the median is always integral), so the
// sorts compare ints; it runs at every window roll.
func medMAD(e *entity, f int) (float32, float32) {
	n := int(e.NWin)
	if n == 0 {
		return 0, 0
	}
	// Most windows of most entities are empty: sort only the nonzero
	// counts, after the zeros.
	var buf [History]int32
	vs := buf[:n]
	nz := n
	for _, v := range e.Ring[f][:n] {
		if v != 0 {
			nz--
			vs[nz] = int32(v)
		}
	}
	clear(vs[:nz])
	slices.Sort(vs[nz:])
	med2 := median2(vs) // 2·median
	// The doubled deviations |2v − med2| of sorted values are two sorted
	// runs (below the median, read backwards, and above it): merge them
	// instead of sorting again.
	var dbuf [History]int32
	ds := dbuf[:n]
	j := sort.Search(n, func(i int) bool { return 2*vs[i] >= med2 })
	lo, hi := j-1, j
	for k := range ds {
		if hi >= n || (lo >= 0 && med2-2*vs[lo] <= 2*vs[hi]-med2) {
			ds[k] = med2 - 2*vs[lo]
			lo--
		} else {
			ds[k] = 2*vs[hi] - med2
			hi++
		}
	}
	return float32(med2) / 2, float32(median2(ds)) / 4 // median2 of 2·deviations is 4·MAD
}

// median2 returns twice the median of sorted, exactly.
func median2(sorted []int32) int32 {
	n := len(sorted)
	if n%2 == 1 {
		return 2 * sorted[n/2]
	}
	return sorted[n/2-1] + sorted[n/2]
}

func (m *Model) calibrate(e *entity, v [NumFeatures]float64, w int32) {
	c := &m.cal[e.Kind]
	// One entity may not supply more than MaxShare of a histogram (beyond a
	// day's worth of windows, so small deployments can calibrate at all).
	perDay := uint64(24 * time.Hour / m.cfg.Window)
	if uint64(e.Contrib) > perDay && float64(e.Contrib) > m.cfg.MaxShare*float64(c.Windows) {
		m.stats.ShareCapped++
		return
	}
	for f := 0; f < NumFeatures; f++ {
		z, _, _ := m.z(e, f, v[f], w)
		b := 0
		if z > 0 {
			b = min(int(z/binWidth), nBins-1)
		}
		c.Bins[f][b]++
	}
	c.Windows++
	m.stale[e.Kind] = true
	e.Contrib++
	m.stats.Calibration++
	day := int32(int64(w) * int64(m.cfg.Window/time.Second) / 86400)
	if day != e.LastDay {
		e.LastDay = day
		c.EntityDays++
	}
}

// recalibrate sets each threshold to the smallest z whose exceedances in
// the histogram stay within the budget: Budget/NumFeatures alerts per
// calibrated entity-day and feature.
func (m *Model) recalibrate() {
	for k := range m.cal {
		c := &m.cal[k]
		if c.Windows == 0 || !m.stale[k] {
			continue
		}
		m.stale[k] = false
		allowed := m.cfg.Budget / NumFeatures * float64(c.EntityDays)
		for f := 0; f < NumFeatures; f++ {
			var tail uint64
			b := nBins - 1
			for ; b >= 0; b-- {
				if float64(tail+c.Bins[f][b]) > allowed {
					break
				}
				tail += c.Bins[f][b]
			}
			// Bin b holds more windows than the budget allows above it, so
			// the threshold is its upper edge.
			c.Thr[f] = max(m.cfg.MinZ, float64(b+1)*binWidth)
		}
	}
}

func (m *Model) unlink(i int32) {
	e := m.at(i)
	p, n := e.prev, e.next
	if p >= 0 {
		m.at(p).next = n
	} else {
		m.head = n
	}
	if n >= 0 {
		m.at(n).prev = p
	} else {
		m.tail = p
	}
	e.prev, e.next = -1, -1
}

func (m *Model) pushFront(i int32) {
	e := m.at(i)
	e.prev, e.next = -1, m.head
	if m.head >= 0 {
		m.at(m.head).prev = i
	}
	m.head = i
	if m.tail < 0 {
		m.tail = i
	}
}

func (m *Model) moveFront(i int32) {
	if m.head != i {
		m.unlink(i)
		m.pushFront(i)
	}
}

// SnapshotVersion is the version of the snapshot payload.
const SnapshotVersion = 1

// MaxSnapshotBytes bounds the payload Restore accepts.
const MaxSnapshotBytes = 4 << 30

type snapState struct {
	Config    Config
	Entities  []entity // least recently seen first
	Cal       []calib
	First     time.Time
	GlobalWin int32
	Stats     Stats
}

// Snapshot writes the model's state (versioned, SHA-256 hashed).
func (m *Model) Snapshot(w io.Writer) error {
	s := snapState{Config: m.cfg, Cal: m.cal, First: m.first, GlobalWin: m.globalWin, Stats: m.stats}
	s.Entities = make([]entity, 0, len(m.idx))
	for i := m.tail; i >= 0; i = m.at(i).prev {
		s.Entities = append(s.Entities, *m.at(i))
	}
	return snapshot.Write(w, "baseline", SnapshotVersion, &s)
}

// Restore replaces the model's state with a snapshot. The snapshot must
// verify and have been taken with the same window and kinds; on error the
// model is unchanged.
func (m *Model) Restore(r io.Reader) error {
	var s snapState
	if err := snapshot.Read(r, "baseline", SnapshotVersion, MaxSnapshotBytes, &s); err != nil {
		return err
	}
	if s.Config.Window != m.cfg.Window || s.Config.Kinds != m.cfg.Kinds || len(s.Cal) != m.cfg.Kinds {
		return fmt.Errorf("baseline restore: %w: taken with window %v and %d kinds, model has %v and %d",
			snapshot.ErrInvalid, s.Config.Window, s.Config.Kinds, m.cfg.Window, m.cfg.Kinds)
	}
	if len(s.Entities) > m.cfg.MaxEntities {
		return fmt.Errorf("baseline restore: %w: %d entities over the cap of %d", snapshot.ErrInvalid, len(s.Entities), m.cfg.MaxEntities)
	}
	n, err := New(m.cfg)
	if err != nil {
		return err
	}
	n.cal, n.globalWin, n.stats = s.Cal, s.GlobalWin, s.Stats
	n.setFirst(s.First)
	for _, se := range s.Entities {
		if len(se.Key) == 0 || se.Key[0] != se.Kind || int(se.Kind) >= m.cfg.Kinds || int(se.NWin) > History || int(se.Pos) >= History {
			return fmt.Errorf("baseline restore: %w: entity record out of range", snapshot.ErrInvalid)
		}
		if _, dup := n.idx[se.Key]; dup {
			return fmt.Errorf("baseline restore: %w: duplicate entity", snapshot.ErrInvalid)
		}
		e := n.entity(int(se.Kind), se.Key[1:], se.Win)
		prev, next := e.prev, e.next
		*e = se
		e.prev, e.next = prev, next
	}
	*m = *n
	return nil
}
