// Package retention enforces how long each class of data is kept.
//
// A Policy gives a retention duration per data class (raw events,
// normalized events, alerts, verdicts, models, audit); Validate ensures the
// audit log outlives the decisions it explains and is never kept less than
// the required minimum. A Job runs one purge func per class on an interval,
// reading time from an injected Clock, and reports what it deleted. The
// purpose subpackage tags data with the purposes it may be used for.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Class is a data class with its own retention.
type Class string

// The data classes.
const (
	RawEvents Class = "raw_events" // original records (Event.Raw, quarantine)
	Events    Class = "events"     // normalized events
	Alerts    Class = "alerts"
	Verdicts  Class = "verdicts"
	Models    Class = "models" // trained model artifacts and their training sets
	Audit     Class = "audit"
	// Quarantine holds records that could not be read (raw, with the reason).
	Quarantine Class = "quarantine"
	// Mappings is the sealed pseudonym → original mapping of package privacy;
	// once purged, a pseudonym is one-way.
	Mappings Class = "privacy_mappings"
)

// Classes lists every class in purge order (audit last, so a run never
// removes audit records before the data they describe).
func Classes() []Class {
	return []Class{RawEvents, Quarantine, Events, Alerts, Verdicts, Models, Mappings, Audit}
}

// DefaultMinAudit is the audit retention required when Policy.MinAudit is
// zero: one year, a common floor of security-logging regulation.
const DefaultMinAudit = 365 * 24 * time.Hour

// Policy is the retention per class. Zero keeps a class forever.
type Policy struct {
	RawEvents time.Duration `yaml:"raw_events"`
	Events    time.Duration `yaml:"events"`
	Alerts    time.Duration `yaml:"alerts"`
	Verdicts  time.Duration `yaml:"verdicts"`
	Models    time.Duration `yaml:"models"`
	Audit     time.Duration `yaml:"audit"`
	// Quarantine and Mappings (privacy mappings) are kept this long.
	Quarantine time.Duration `yaml:"quarantine"`
	Mappings   time.Duration `yaml:"privacy_mappings"`
	// MinAudit is the shortest audit retention allowed (default DefaultMinAudit).
	MinAudit time.Duration `yaml:"min_audit"`
}

// DefaultPolicy is a conservative starting point.
func DefaultPolicy() Policy {
	day := 24 * time.Hour
	return Policy{RawEvents: 7 * day, Events: 30 * day, Alerts: 365 * day, Verdicts: 730 * day,
		Models: 730 * day, Audit: 2555 * day}
}

// For returns the retention of class c (0: forever).
func (p Policy) For(c Class) time.Duration {
	switch c {
	case RawEvents:
		return p.RawEvents
	case Events:
		return p.Events
	case Alerts:
		return p.Alerts
	case Verdicts:
		return p.Verdicts
	case Models:
		return p.Models
	case Audit:
		return p.Audit
	case Quarantine:
		return p.Quarantine
	case Mappings:
		return p.Mappings
	}
	return 0
}

func (p Policy) minAudit() time.Duration {
	if p.MinAudit > 0 {
		return p.MinAudit
	}
	return DefaultMinAudit
}

// Validate reports every problem at once. The audit log must be kept at
// least MinAudit, and at least as long as alerts, verdicts and models,
// whose audit records explain them (a class kept forever needs an audit log
// kept forever). Raw and normalized events are evidence, not decisions: the
// audit records cite them by digest and may outlive them.
func (p Policy) Validate() error {
	var errs []error
	for _, c := range Classes() {
		if p.For(c) < 0 {
			errs = append(errs, fmt.Errorf("retention.%s: must not be negative", c))
		}
	}
	if p.MinAudit < 0 {
		errs = append(errs, errors.New("retention.min_audit: must not be negative"))
	}
	if p.Audit > 0 {
		if p.Audit < p.minAudit() {
			errs = append(errs, fmt.Errorf("retention.audit: %s is shorter than the required %s", p.Audit, p.minAudit()))
		}
		for _, c := range []Class{Alerts, Verdicts, Models} {
			switch d := p.For(c); {
			case d == 0:
				errs = append(errs, fmt.Errorf("retention.audit: %s are kept forever, so the audit log must be too (set audit: 0)", c))
			case d > p.Audit:
				errs = append(errs, fmt.Errorf("retention.audit: %s is shorter than %s retention %s; audit records must outlive what they explain", p.Audit, c, d))
			}
		}
	}
	return errors.Join(errs...)
}

// PurgeFunc deletes the data of one class older than before and returns
// how many items it deleted. It may delete less (an audit log drops whole
// segments up to the last checkpoint before the cut) but never more.
type PurgeFunc func(ctx context.Context, before time.Time) (int64, error)

// Clock is the Job's source of time.
type Clock interface {
	Now() time.Time
	// After is time.After on this clock.
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// JobOptions tunes a Job. Zero fields get defaults.
type JobOptions struct {
	// Interval between runs (default 1h).
	Interval time.Duration
	// MaxClockStep: if the clock moved forward more than this since the
	// previous run (a clock jump), the audit purge is skipped for that run
	// so a wrong clock cannot cut the audit log short (default 24h+2×Interval).
	MaxClockStep time.Duration
	// Clock (default wall clock).
	Clock Clock
	// Logger (nil: discard).
	Logger *slog.Logger
	// OnReport receives each run's report (e.g. to write an audit record).
	OnReport func(ctx context.Context, r Report)
}

// Result is what one class's purge did.
type Result struct {
	Class   Class
	Before  time.Time // the cut-off passed to the purge func
	Deleted int64
	Err     error
	// Skipped says why the purge func was not called ("" if it was).
	Skipped string
}

// Report is one run of the Job.
type Report struct {
	Start, End time.Time
	Results    []Result
}

// Deleted is the total deleted in the run.
func (r Report) Deleted() int64 {
	var n int64
	for _, x := range r.Results {
		n += x.Deleted
	}
	return n
}

// Err joins the purge errors of the run.
func (r Report) Err() error {
	var errs []error
	for _, x := range r.Results {
		if x.Err != nil {
			errs = append(errs, fmt.Errorf("purging %s: %w", x.Class, x.Err))
		}
	}
	return errors.Join(errs...)
}

// Job enforces a Policy. RunOnce and Run must not be called concurrently.
type Job struct {
	p      Policy
	purges map[Class]PurgeFunc
	opt    JobOptions
	log    *slog.Logger
	last   time.Time // clock reading of the previous run
}

// NewJob validates the policy and checks that every class with a finite
// retention has a purge func (an unenforced retention would be a silent
// promise). Purge funcs for classes kept forever are never called.
func NewJob(p Policy, purges map[Class]PurgeFunc, opt JobOptions) (*Job, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var errs []error
	for c := range purges {
		if !knownClass(c) {
			errs = append(errs, fmt.Errorf("retention: purge func for unknown class %q", c))
		}
	}
	for _, c := range Classes() {
		if p.For(c) > 0 && purges[c] == nil {
			errs = append(errs, fmt.Errorf("retention.%s: %s set but nothing purges this class", c, p.For(c)))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if opt.Interval <= 0 {
		opt.Interval = time.Hour
	}
	if opt.MaxClockStep <= 0 {
		opt.MaxClockStep = 24*time.Hour + 2*opt.Interval
	}
	if opt.Clock == nil {
		opt.Clock = wallClock{}
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Job{p: p, purges: purges, opt: opt, log: log.With("component", "retention")}, nil
}

func knownClass(c Class) bool {
	for _, k := range Classes() {
		if k == c {
			return true
		}
	}
	return false
}

// RunOnce purges every class once and returns the report. One class
// failing does not stop the others.
func (j *Job) RunOnce(ctx context.Context) Report {
	now := j.opt.Clock.Now()
	rep := Report{Start: now}
	jumped := !j.last.IsZero() && now.Sub(j.last) > j.opt.MaxClockStep
	for _, c := range Classes() {
		d := j.p.For(c)
		if d == 0 {
			continue
		}
		res := Result{Class: c, Before: now.Add(-d)}
		switch {
		case ctx.Err() != nil:
			res.Err = ctx.Err()
		case c == Audit && jumped:
			res.Skipped = fmt.Sprintf("clock moved %s since the previous run (more than %s)", now.Sub(j.last), j.opt.MaxClockStep)
			j.log.Warn("audit purge skipped after clock jump", "step", now.Sub(j.last).String())
		default:
			res.Deleted, res.Err = j.purges[c](ctx, res.Before)
		}
		if res.Err != nil {
			j.log.Error("retention purge failed", "class", string(c), "err", res.Err)
		} else if res.Deleted > 0 {
			j.log.Info("retention purged", "class", string(c), "count", res.Deleted, "before", res.Before)
		}
		rep.Results = append(rep.Results, res)
	}
	j.last = now
	rep.End = j.opt.Clock.Now()
	if j.opt.OnReport != nil {
		j.opt.OnReport(ctx, rep)
	}
	return rep
}

// Run runs RunOnce now and then every Interval until ctx is done, and
// returns nil then.
func (j *Job) Run(ctx context.Context) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		j.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-j.opt.Clock.After(j.opt.Interval):
		}
	}
}
