// Package store defines the persistence interfaces Rampart's stages use.
// Implementations live in store/sqlite and store/postgres; both must pass
// the conformance suite in store/storetest.
//
// All methods are safe for concurrent use. Writes are idempotent where the
// doc says so: at-least-once ingest may deliver the same event or signal twice.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

var (
	// ErrNotFound means the requested object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the write contradicts stored state (e.g. a duplicate token name).
	ErrConflict = errors.New("conflict")
	// ErrInvalid means an argument is malformed (a bad cursor, an unknown level
	// or verdict kind, an empty id); the caller should not retry it unchanged.
	ErrInvalid = errors.New("invalid argument")
)

// EventStore keeps normalized events (with their raw record) for a retention window.
type EventStore interface {
	// AppendEvents stores events; an event whose ID is already stored is ignored.
	AppendEvents(ctx context.Context, evs []*event.Event) error
	// GetEvents returns the stored events with the given ids (missing ids are skipped), in id order given.
	GetEvents(ctx context.Context, ids []string) ([]*event.Event, error)
	// PurgeEvents deletes events whose Received time is before t and returns how many.
	PurgeEvents(ctx context.Context, before time.Time) (int64, error)
}

// AlertStore folds signals into alerts and keeps verdicts.
type AlertStore interface {
	// RecordSignals folds each signal into the alert with id alertIDs[i]
	// (computed by the caller with alert.DeriveID): the alert is created from
	// the signal if new; otherwise, if the signal id was not folded in before,
	// Count increases by one, LastSeen/FirstSeen widen and evidence event ids
	// are appended up to alert.MaxEvidence (an id already present is not
	// repeated); other fields keep the first signal's values, and a fold does
	// not reopen a closed alert. Details are kept as JSON (numbers read back
	// as float64; see CleanSignal). A signal id seen before changes nothing. It returns the resulting alerts (each as it
	// stood after its input was folded) and, per input, whether the alert was
	// newly created. Inputs are applied in order in one transaction.
	RecordSignals(ctx context.Context, sigs []signal.Signal, alertIDs []string) ([]alert.Alert, []bool, error)
	// GetAlert returns one alert with its verdict, or ErrNotFound.
	GetAlert(ctx context.Context, id string) (alert.Alert, error)
	// ListAlerts returns alerts newest LastSeen first, filtered and paged.
	ListAlerts(ctx context.Context, q AlertQuery) (AlertPage, error)
	// SetVerdict records the verdict on an alert (replacing an earlier one,
	// whose history is kept) and closes it. ErrNotFound if no such alert.
	SetVerdict(ctx context.Context, v alert.Verdict) error
}

// VerdictHistory is implemented by stores that keep every verdict ever set
// on an alert (both stores in this repository do).
type VerdictHistory interface {
	// Verdicts returns every verdict set on the alert, oldest first; none is
	// an empty slice, an unknown alert ErrNotFound.
	Verdicts(ctx context.Context, alertID string) ([]alert.Verdict, error)
}

// AlertQuery filters ListAlerts. Zero values do not filter.
type AlertQuery struct {
	RuleID   string
	Detector string
	MinLevel signal.Level // alerts at or above this level
	Status   alert.Status
	Entity   string // matches an entity value exactly
	// Since and Until select alerts active in [Since, Until): LastSeen >= Since
	// and FirstSeen < Until.
	Since  time.Time
	Until  time.Time
	Limit  int    // default 50, max 1000
	Cursor string // opaque, from AlertPage.Next
}

// AlertPage is one page of alerts.
type AlertPage struct {
	Alerts []alert.Alert
	Next   string // empty on the last page
}

// Quarantined is a record that could not be read, kept with the reason.
type Quarantined struct {
	ID       int64
	Time     time.Time // when it was quarantined (wall clock)
	Source   string
	Position string
	Reason   string
	Raw      []byte // truncated to MaxQuarantineRaw bytes
}

// MaxQuarantineRaw bounds the raw bytes kept per quarantined record.
const MaxQuarantineRaw = 64 << 10

// QuarantineKey is the identity of a quarantined record: its source,
// position and raw bytes (a file rotated under the same path restarts its
// offsets, so position alone does not name a record). Records without a
// position have no identity ("") and are always kept.
func QuarantineKey(q *Quarantined) string {
	if q.Position == "" {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(q.Source))
	h.Write([]byte{0})
	h.Write([]byte(q.Position))
	h.Write([]byte{0})
	h.Write(q.Raw)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// QuarantineStore keeps records that could not be read.
type QuarantineStore interface {
	// Quarantine stores qs. A record whose QuarantineKey is already stored
	// is not stored again: an input that re-reads lines after a crash
	// (offsets are committed after storage) quarantines each record once.
	Quarantine(ctx context.Context, qs []Quarantined) error
	// ListQuarantine returns the newest records first, at most limit (default 100).
	ListQuarantine(ctx context.Context, reason string, limit int) ([]Quarantined, error)
	// CountQuarantine returns counts by reason.
	CountQuarantine(ctx context.Context) (map[string]int64, error)
}

// OffsetStore remembers input positions so a restart loses no line.
type OffsetStore interface {
	// GetOffset returns the saved state for key (ErrNotFound if none).
	GetOffset(ctx context.Context, key string) (Offset, error)
	SetOffset(ctx context.Context, key string, o Offset) error
}

// Offset is a file input's position: the file identity (device+inode or a
// hash of its first bytes) and the byte offset of the next unread record.
type Offset struct {
	FileID string
	Offset int64
}

// Token is an API credential. Only the SHA-256 hash of the secret is stored.
type Token struct {
	ID      string
	Name    string
	Role    string // viewer, analyst, responder, admin, ingest
	Hash    string // hex SHA-256 of the secret
	Created time.Time
}

// TokenStore keeps API tokens (hashed).
type TokenStore interface {
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash returns the token with that hash or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	CountTokens(ctx context.Context) (int, error)
}

// Stats are row counts for /metrics and the console.
type Stats struct {
	Events int64
	// Alerts counts alerts by level; OpenAlerts those not yet closed.
	Alerts      map[signal.Level]int64
	OpenAlerts  int64
	Quarantined int64
}

// StatsStore is implemented by stores that can count what they hold (both
// stores in this repository do). Stats counts rows, which costs a scan on
// large tables: cache it for a scrape interval rather than calling it per request.
type StatsStore interface {
	Stats(ctx context.Context) (Stats, error)
}

// DetectorStats are one detector's alert volume and verdicts (the current
// verdict of each alert), for the console's detector health.
type DetectorStats struct {
	Detector      string
	Alerts        int64 // alerts raised
	Signals       int64 // signals folded into them (sum of Count)
	Open          int64
	TruePositive  int64
	Benign        int64
	FalsePositive int64
}

// DetectorStatsStore is implemented by stores that can group alerts by
// detector (both stores in this repository do). Like Stats it scans the
// alerts table.
type DetectorStatsStore interface {
	// DetectorStats returns one entry per detector with alerts, by detector name.
	DetectorStats(ctx context.Context) ([]DetectorStats, error)
}

// Retention is implemented by stores that can expire each data class on
// its own schedule (events use EventStore.PurgeEvents).
type Retention interface {
	// PurgeAlerts deletes alerts whose LastSeen (event time) and Created
	// (wall clock) are both before t, with their verdict history and folded
	// signal ids, and returns how many: alerts raised by replaying old logs
	// live a retention period from when they were stored. A signal replayed
	// after its alert was purged creates the alert anew.
	PurgeAlerts(ctx context.Context, before time.Time) (int64, error)
	// PurgeQuarantine deletes quarantined records whose Time is before t.
	PurgeQuarantine(ctx context.Context, before time.Time) (int64, error)
	// PurgeRaw empties the raw record of events received before t; the
	// normalized event stays (raw and normalized events have their own
	// retention). It returns how many raw records it emptied.
	PurgeRaw(ctx context.Context, before time.Time) (int64, error)
	// PurgeVerdicts deletes verdicts set before t from the verdict history
	// and clears an alert's current verdict set before t (the alert stays
	// closed). It returns how many history entries it deleted. Verdicts are
	// also deleted with their alert (PurgeAlerts).
	PurgeVerdicts(ctx context.Context, before time.Time) (int64, error)
}

// Store is everything a Rampart node persists.
type Store interface {
	EventStore
	AlertStore
	QuarantineStore
	OffsetStore
	TokenStore
	Close() error
}
