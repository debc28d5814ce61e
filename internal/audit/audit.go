// Package audit is Rampart's tamper-evident audit log: an append-only chain
// of records, each holding the SHA-256 hash of its predecessor, and signed
// ed25519 checkpoints of the chain head.
//
// A record's hash covers a canonical encoding of every field (see
// docs/formats/audit.md), so changing, removing, inserting or reordering a
// record breaks the chain; a checkpoint signs the hash of one record and so
// vouches for it and every record before it. Cutting records off the end is
// caught by a checkpoint whose record is gone, including the latest
// checkpoint, which is also kept outside the database (the anchor file).
// Records after the newest checkpoint are linked but not yet signed; Verify
// reports how many.
//
// Stores (store/sqlite, store/postgres) implement Store and append records
// in the same database transaction as the change they record, with Seal
// computing sequence numbers and hashes from the head read in that
// transaction. Signing keys live outside the database (KeyRing).
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	// ErrInvalid means a record or argument is malformed (bad action name, an
	// oversized field, a digest that is not hex SHA-256).
	ErrInvalid = errors.New("invalid audit record")
	// ErrNoKey means no signing key is available (a public-only key ring).
	ErrNoKey = errors.New("no audit signing key")
)

// Actions Rampart records. Action names are stable lower_snake identifiers;
// callers may use others that match ActionPattern.
const (
	ActionAlertCreated       = "alert_created"
	ActionVerdictSet         = "verdict_set"
	ActionTokenCreated       = "token_created"
	ActionRulesReloaded      = "rules_reloaded"
	ActionModelTrained       = "model_trained"
	ActionModelPromoted      = "model_promoted"
	ActionModelRolledBack    = "model_rolled_back"
	ActionSuppressionCreated = "suppression_created"
	ActionSuppressionDeleted = "suppression_deleted"
	ActionPolicyChanged      = "policy_changed"
	ActionActionExecuted     = "action_executed"
	ActionDecisionMade       = "decision_made"
	ActionKeyRotated         = "audit_key_rotated"
	// ActionPruned is written by Log.Prune before retention removes records
	// before seq SubjectID; Verify accepts a chain starting there only then.
	ActionPruned       = "audit_pruned"
	ActionReidentified = "reidentified"
)

// Limits on record fields, in bytes. Oversized fields are an ErrInvalid,
// except Explanation, which is cut at a character boundary and marked, so
// a long explanation never blocks the change it explains.
const (
	MaxActor       = 256
	MaxAction      = 64
	MaxSubjectKind = 64
	MaxSubjectID   = 1024
	MaxVersions    = 32
	MaxVersionText = 256
	MaxExplanation = 16 << 10
)

// ActionPattern is the shape of an action name.
var ActionPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ZeroHash is the PrevHash of the first record of a chain.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Record is one audit entry. Callers fill the content fields; Seal fills
// Seq, PrevHash and Hash (and Time when zero).
type Record struct {
	Seq  int64
	Time time.Time // UTC, microsecond precision
	// Actor is who or what acted: "user:alice", "token:ci", "component:pipeline".
	Actor  string
	Action string
	// Subject names the object acted on, e.g. kind "alert", id the alert id.
	SubjectKind string
	SubjectID   string
	// InputDigest is the hex SHA-256 of the inputs the action was based on
	// (see Digest), or empty.
	InputDigest string
	// Versions are the rule and model versions involved, e.g.
	// {"rule": "sigma/ssh_brute@3", "model": "iforest@2026-11-27"}.
	Versions    map[string]string
	Explanation string
	PrevHash    string
	Hash        string
}

// Head is the newest record of a chain: its sequence number and hash. The
// head of an empty chain is {0, ZeroHash}.
type Head struct {
	Seq  int64
	Hash string
}

// Checkpoint is a signature over a chain head by one key.
type Checkpoint struct {
	Seq       int64
	Hash      string
	Time      time.Time
	KeyID     string
	Signature []byte // ed25519 over CheckpointMessage
}

// Store persists the chain. Implementations are safe for concurrent use.
//
// Append reads the head and writes the sealed records in one transaction,
// so concurrent appends (from any number of goroutines or nodes) produce one
// unbroken chain. Range calls fn for records with from <= Seq <= to in
// ascending order (to <= 0 means through the head); an error from fn stops
// it and is returned. DeleteBefore implements retention: it removes records
// and checkpoints before the newest checkpoint whose Seq <= seq, never
// past it, so the remaining chain starts at a signed record; it returns how
// many records it removed (0 if no checkpoint qualifies). Use it through
// Log.Prune, which first records the cut in the chain: Verify rejects a
// chain whose start is not vouched for by such a record.
type Store interface {
	Append(ctx context.Context, recs []Record) ([]Record, error)
	Head(ctx context.Context) (Head, error)
	Range(ctx context.Context, from, to int64, fn func(Record) error) error
	AddCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints returns every stored checkpoint, ascending by Seq.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
	DeleteBefore(ctx context.Context, seq int64) (int64, error)
}

// Digest returns the hex SHA-256 of the parts, each length-prefixed so that
// ("ab","c") and ("a","bc") differ. Use it for Record.InputDigest.
func Digest(parts ...[]byte) string {
	h := sha256.New()
	var n [20]byte
	for _, p := range parts {
		h.Write(strconv.AppendInt(n[:0], int64(len(p)), 10))
		h.Write([]byte{':'})
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Normalize checks a record's content fields and returns the form that is
// stored and hashed: text made valid UTF-8 without NUL (PostgreSQL cannot
// store either), Time in UTC truncated to microseconds, an oversized
// explanation cut. Seq, PrevHash and Hash are left as they are.
func Normalize(r Record) (Record, error) {
	r.Actor = cleanText(r.Actor)
	r.Action = cleanText(r.Action)
	r.SubjectKind = cleanText(r.SubjectKind)
	r.SubjectID = cleanText(r.SubjectID)
	r.Explanation = cleanText(r.Explanation)
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	var errs []error
	check := func(name, v string, max int, required bool) {
		switch {
		case required && v == "":
			errs = append(errs, fmt.Errorf("%s is empty", name))
		case len(v) > max:
			errs = append(errs, fmt.Errorf("%s is %d bytes, limit %d", name, len(v), max))
		}
	}
	check("actor", r.Actor, MaxActor, true)
	check("action", r.Action, MaxAction, true)
	check("subject kind", r.SubjectKind, MaxSubjectKind, false)
	check("subject id", r.SubjectID, MaxSubjectID, false)
	if r.Action != "" && !ActionPattern.MatchString(r.Action) {
		errs = append(errs, fmt.Errorf("action %q is not lower_snake", r.Action))
	}
	if r.InputDigest != "" && !isHash(r.InputDigest) {
		errs = append(errs, fmt.Errorf("input digest %.80q is not 64 lower-case hex digits", r.InputDigest))
	}
	if len(r.Versions) > MaxVersions {
		errs = append(errs, fmt.Errorf("%d versions, limit %d", len(r.Versions), MaxVersions))
	}
	if len(r.Versions) > 0 {
		vs := make(map[string]string, len(r.Versions))
		for k, v := range r.Versions {
			k, v = cleanText(k), cleanText(v)
			if k == "" || len(k) > MaxVersionText || len(v) > MaxVersionText {
				errs = append(errs, fmt.Errorf("version %.40q: key must be 1..%d bytes and value at most %d", k, MaxVersionText, MaxVersionText))
			}
			vs[k] = v
		}
		r.Versions = vs
	} else {
		r.Versions = nil
	}
	if len(r.Explanation) > MaxExplanation {
		const mark = " …[truncated]"
		r.Explanation = Clip(r.Explanation, MaxExplanation-len(mark)) + mark
	}
	if len(errs) > 0 {
		return r, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return r, nil
}

func cleanText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Seal normalizes recs and chains them after head: record i gets Seq
// head.Seq+i+1, the previous hash, and its own hash. A zero Time becomes
// now. Stores call it inside the transaction that read head.
func Seal(head Head, recs []Record, now time.Time) ([]Record, error) {
	if head.Seq == 0 && head.Hash == "" {
		head.Hash = ZeroHash
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		if r.Time.IsZero() {
			r.Time = now
		}
		n, err := Normalize(r)
		if err != nil {
			return nil, fmt.Errorf("sealing audit record %d (%s): %w", i, r.Action, err)
		}
		n.Seq = head.Seq + 1
		n.PrevHash = head.Hash
		n.Hash = HashRecord(n)
		out[i] = n
		head = Head{Seq: n.Seq, Hash: n.Hash}
	}
	return out, nil
}

// TimeFormat is how times appear in the canonical encoding and in exports.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// CanonicalRecord is the byte string a record's hash covers: the tag line
// "rampart.audit.record.v1\n" followed by each field as a netstring-like
// "<decimal byte length>:<bytes>\n" in a fixed order (docs/formats/audit.md).
func CanonicalRecord(r Record) []byte {
	b := make([]byte, 0, 256+len(r.Explanation))
	b = append(b, "rampart.audit.record.v1\n"...)
	b = field(b, strconv.FormatInt(r.Seq, 10))
	b = field(b, r.Time.UTC().Format(TimeFormat))
	b = field(b, r.Actor)
	b = field(b, r.Action)
	b = field(b, r.SubjectKind)
	b = field(b, r.SubjectID)
	b = field(b, r.InputDigest)
	keys := make([]string, 0, len(r.Versions))
	for k := range r.Versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = field(b, strconv.Itoa(len(keys)))
	for _, k := range keys {
		b = field(b, k)
		b = field(b, r.Versions[k])
	}
	b = field(b, r.Explanation)
	b = field(b, r.PrevHash)
	return b
}

func field(b []byte, v string) []byte {
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	b = append(b, v...)
	return append(b, '\n')
}

// HashRecord returns the hex SHA-256 of CanonicalRecord(r).
func HashRecord(r Record) string {
	sum := sha256.Sum256(CanonicalRecord(r))
	return hex.EncodeToString(sum[:])
}

// CheckpointMessage is the byte string a checkpoint signature covers.
func CheckpointMessage(c Checkpoint) []byte {
	b := make([]byte, 0, 160)
	b = append(b, "rampart.audit.checkpoint.v1\n"...)
	b = field(b, strconv.FormatInt(c.Seq, 10))
	b = field(b, c.Hash)
	b = field(b, c.Time.UTC().Format(TimeFormat))
	b = field(b, c.KeyID)
	return b
}
