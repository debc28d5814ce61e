package format

import (
	"errors"
	"sort"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
)

// LockScore is the Sniff score at or above which Auto keeps using the last
// winning format without asking the others. A format returns it or more only
// for records no other format would claim more strongly: the generic
// syslog format, for instance, scores sshd lines below it so that Auto
// re-sniffs them and the auth format wins.
const LockScore = 50

// Sniff scores of the built-in formats, for reference: windows 85-95, eve
// 90, ocsf 90, zeek 100 (headers) / 90 (JSON) / 60 (TSV data lines), auth
// 90, web 80, syslog 70 (30 for auth programs), ecs 45 or 10 (the generic
// JSON fallback, never locked).

// maxTries bounds how many candidate formats Auto tries on one record.
const maxTries = 3

// NewAuto returns a Parser that detects the format of each record.
//
// It calls the cheap Sniff of every format registered when NewAuto is called
// and parses with the highest scorer (ties go to the name first in sort
// order), trying the next candidates when that parse fails. It then locks
// onto the winner: while the winner's Sniff scores a record at least
// LockScore, the others are not asked; a failed parse re-sniffs. Each format
// gets one Parser for the stream, so per-stream state (Zeek headers, sshd
// pids) survives switches between formats. A record no format recognises is
// rejected as "unknown_format", or, if it looks like a JSON object or array,
// with CheckJSON's reason when it has one.
func NewAuto(opts Options) Parser {
	regMu.RLock()
	fs := make([]Format, 0, len(formats))
	for _, f := range formats {
		fs = append(fs, f)
	}
	regMu.RUnlock()
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name() < fs[j].Name() })
	return &auto{opts: opts, formats: fs, parsers: make([]Parser, len(fs)), cur: -1}
}

type auto struct {
	opts    Options
	formats []Format
	parsers []Parser // lazily created, parallel to formats
	cur     int      // locked format index or -1
	scores  []int
	order   []int
}

func (a *auto) parser(i int) Parser {
	if a.parsers[i] == nil {
		a.parsers[i] = a.formats[i].NewParser(a.opts)
	}
	return a.parsers[i]
}

func (a *auto) Parse(rec []byte, ev *event.Event) error {
	failed, lockErr := -1, error(nil)
	if a.cur >= 0 {
		if claimed, err := a.parseLocked(rec, ev); claimed {
			if err == nil || errors.Is(err, ErrNoEvent) {
				return err
			}
			clearParse(ev)
			failed, lockErr = a.cur, err
		}
	}
	a.scores = a.scores[:0]
	a.order = a.order[:0]
	for i, f := range a.formats {
		s := f.Sniff(rec)
		a.scores = append(a.scores, s)
		if s > 0 {
			a.order = append(a.order, i)
		}
	}
	if len(a.order) == 0 {
		// A broken JSON container no format claims (a deep "[[[…") is
		// quarantined for what is wrong with it, as a JSON format would.
		if looksLikeJSON(rec) {
			depth := a.opts.MaxDepth
			if depth <= 0 {
				depth = defaultMaxDepth
			}
			if err := CheckJSON(rec, depth); err != nil {
				return err
			}
		}
		return Reject(ReasonUnknownFormat, "no registered format recognises the record")
	}
	sort.SliceStable(a.order, func(i, j int) bool { return a.scores[a.order[i]] > a.scores[a.order[j]] })
	var firstErr error
	for n, i := range a.order {
		if n == maxTries {
			break
		}
		if i == failed { // already tried through the lock
			if firstErr == nil {
				firstErr = lockErr
			}
			continue
		}
		err := a.parser(i).Parse(rec, ev)
		if err == nil || errors.Is(err, ErrNoEvent) {
			a.cur = i
			return err
		}
		clearParse(ev)
		if firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// ClaimParser is an optional Parser capability for Auto's locked path: a
// parser whose format's Sniff does the same work as the start of Parse (the
// auth format parses the syslog header in both) saves that second pass.
type ClaimParser interface {
	// ParseClaimed parses rec when its format's Sniff would score it at
	// least LockScore, returning claimed true and Parse's error. Otherwise
	// it returns claimed false and leaves ev untouched.
	ParseClaimed(rec []byte, ev *event.Event) (claimed bool, err error)
}

// parseLocked parses rec with the locked format if that format claims it.
func (a *auto) parseLocked(rec []byte, ev *event.Event) (bool, error) {
	p := a.parser(a.cur)
	if cp, ok := p.(ClaimParser); ok {
		return cp.ParseClaimed(rec, ev)
	}
	if a.formats[a.cur].Sniff(rec) < LockScore {
		return false, nil
	}
	return true, p.Parse(rec, ev)
}

// clearParse undoes what a failed Parse may have written, keeping the
// caller's ID, Source, Raw and Received.
func clearParse(ev *event.Event) {
	clear(ev.Fields)
	ev.Time = time.Time{}
	ev.Format = ""
}
