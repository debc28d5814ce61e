package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/modelreg"
	"github.com/rampart-ids/rampart/internal/privacy"
	"github.com/rampart-ids/rampart/internal/retention"
	"github.com/rampart-ids/rampart/internal/retention/purpose"
	"github.com/rampart-ids/rampart/internal/store"
)

// Data-governance wiring of a node: the privacy layer (pseudonyms for
// lower roles, audited re-identification) and retention of every data class.

// PrivacyKeyFile and PrivacyMappingFile live in the data dir, outside the database.
const (
	PrivacyKeyFile     = "privacy-keys.json"
	PrivacyMappingFile = "privacy-mappings.json"
)

// ActorRetention is the audit actor of retention runs.
const ActorRetention = "component:retention"

// governance is the Server's privacy layer and retention job.
type governance struct {
	p     *privacy.Pseudonymizer
	maps  *privacy.FileMappings
	job   *retention.Job
	clock retention.Clock // nil: wall clock (tests set a fake one)
	// clearOutputs[i] is true for an alert output configured `clear: true`.
	clearOutputs []bool
}

// OpenPrivacy opens the privacy layer of a data dir as serve and the CLI
// use it: keys (made on first use, 0600) and the sealed mapping file in
// dataDir, re-identification audited through audit (nil: re-identification
// disabled). Close the returned mappings when done.
func OpenPrivacy(dataDir string, cfg privacy.Config, l *audit.Log, now time.Time) (*privacy.Pseudonymizer, *privacy.FileMappings, error) {
	return openPrivacy(dataDir, cfg, l, now, privacy.OpenFileMappings)
}

// OpenPrivacyBeside is OpenPrivacy for a command run beside a node (export,
// train): the same keys and pseudonyms, mappings only appended (see
// privacy.OpenFileMappingsShared), no re-identification.
func OpenPrivacyBeside(dataDir string, cfg privacy.Config, now time.Time) (*privacy.Pseudonymizer, *privacy.FileMappings, error) {
	return openPrivacy(dataDir, cfg, nil, now, privacy.OpenFileMappingsShared)
}

func openPrivacy(dataDir string, cfg privacy.Config, l *audit.Log, now time.Time,
	openMaps func(string, *slog.Logger) (*privacy.FileMappings, error)) (*privacy.Pseudonymizer, *privacy.FileMappings, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating data dir: %w", err)
	}
	keys, err := privacy.OpenKeyFile(filepath.Join(dataDir, PrivacyKeyFile), now)
	if err != nil {
		return nil, nil, fmt.Errorf("opening privacy keys: %w", err)
	}
	maps, err := openMaps(filepath.Join(dataDir, PrivacyMappingFile), cfg.Deps.Logger)
	if err != nil {
		return nil, nil, fmt.Errorf("opening pseudonym mappings: %w", err)
	}
	cfg.Deps.Mappings = maps
	if l != nil {
		cfg.Deps.Audit = api.ReidentifyAudit(l)
	}
	p, err := privacy.New(cfg, keys)
	if err != nil {
		maps.Close()
		return nil, nil, fmt.Errorf("configuring privacy: %w", err)
	}
	return p, maps, nil
}

// pseudonymizer builds the node's privacy layer once.
func (s *Server) pseudonymizer() (*privacy.Pseudonymizer, error) {
	if s.gov.p != nil {
		return s.gov.p, nil
	}
	pc := s.cfg.Privacy.Config
	pc.Deps.Logger = s.log
	p, maps, err := OpenPrivacy(s.cfg.DataDir, pc, s.audit, time.Now())
	if err != nil {
		return nil, err
	}
	s.gov.p, s.gov.maps = p, maps
	return p, nil
}

// closeGovernance writes buffered pseudonym mappings and closes the file.
func (s *Server) closeGovernance(ctx context.Context) {
	if s.gov.p == nil {
		return
	}
	if err := s.gov.p.Flush(ctx); err != nil {
		s.log.Error("writing pseudonym mappings failed", "err", err)
	}
	if err := s.gov.maps.Close(); err != nil {
		s.log.Error("closing pseudonym mappings failed", "err", err)
	}
}

// retentionPolicy is the configured retention as a retention.Policy.
func (s *Server) retentionPolicy() retention.Policy {
	p := s.cfg.Retention.Policy()
	if s.cfg.Privacy.Disabled {
		p.Mappings = 0 // no mapping is kept
	}
	return p
}

// buildRetention validates the retention config and builds the job that
// purges every class; serve refuses to start on an invalid policy (an audit
// log kept shorter than its minimum or than the decisions it explains).
func (s *Server) buildRetention() error {
	r, ok := s.store.(store.Retention)
	if !ok {
		return fmt.Errorf("store %T cannot enforce retention", s.store)
	}
	purges := map[retention.Class]retention.PurgeFunc{
		retention.RawEvents: r.PurgeRaw, retention.Quarantine: r.PurgeQuarantine, retention.Events: s.store.PurgeEvents,
		retention.Alerts: r.PurgeAlerts, retention.Verdicts: r.PurgeVerdicts, retention.Models: s.purgeModels,
		retention.Audit: s.purgeAudit,
	}
	if !s.cfg.Privacy.Disabled {
		purges[retention.Mappings] = s.purgeMappings
	}
	job, err := retention.NewJob(s.retentionPolicy(), purges, retention.JobOptions{
		Clock: s.gov.clock, Logger: s.log, OnReport: s.auditRetention,
	})
	if err != nil {
		return fmt.Errorf("retention config: %w", err)
	}
	s.gov.job = job
	return nil
}

// enforceRetention runs the retention job once (housekeeping calls it
// hourly) and writes the pseudonym mappings buffered since the last run.
func (s *Server) enforceRetention(ctx context.Context) {
	if s.gov.p != nil {
		if err := s.gov.p.Flush(ctx); err != nil {
			s.log.Error("writing pseudonym mappings failed", "err", err)
		}
	}
	if s.gov.job != nil {
		s.gov.job.RunOnce(ctx)
	}
}

// purgeModels removes registry versions older than the cut-off that
// rollback cannot need.
func (s *Server) purgeModels(_ context.Context, before time.Time) (int64, error) {
	reg, err := modelreg.Open(modelreg.DefaultDir(s.cfg.DataDir))
	if err != nil {
		return 0, err
	}
	pruned, err := reg.Prune(before)
	for _, p := range pruned {
		s.log.Info("model version removed by retention", "model", p.Name+"@"+p.Version, "created", p.Created)
	}
	return int64(len(pruned)), err
}

// purgeAudit drops whole signed segments: records before the newest
// checkpoint signed before the cut-off (a checkpoint's time bounds the
// times of the records it covers, so no record at or after the cut-off
// goes). Log.Prune records the cut in the chain first, so `audit verify`
// passes from the oldest retained checkpoint.
func (s *Server) purgeAudit(ctx context.Context, before time.Time) (int64, error) {
	cps, err := s.audit.Store().Checkpoints(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading audit checkpoints: %w", err)
	}
	cut := int64(0)
	for _, c := range cps {
		if c.Time.Before(before) && c.Seq > cut {
			cut = c.Seq
		}
	}
	if cut <= 1 {
		return 0, nil
	}
	// Already cut there: a new audit_pruned record every run would only grow the chain.
	first := int64(0)
	err = s.audit.Store().Range(ctx, 0, 0, func(r audit.Record) error { first = r.Seq; return errFirst })
	if err != nil && !errors.Is(err, errFirst) {
		return 0, fmt.Errorf("reading the audit chain: %w", err)
	}
	if first >= cut {
		return 0, nil
	}
	return s.audit.Prune(ctx, cut, ActorRetention)
}

// errFirst stops a Range after the first record.
var errFirst = errors.New("first record read")

// purgeMappings deletes sealed originals not seen since the cut-off:
// their pseudonyms become one-way.
func (s *Server) purgeMappings(ctx context.Context, before time.Time) (int64, error) {
	if _, err := s.pseudonymizer(); err != nil {
		return 0, err
	}
	if err := s.gov.p.Flush(ctx); err != nil {
		return 0, err
	}
	return s.gov.maps.PurgeBefore(ctx, before)
}

// auditRetention records each retention run with its counts per class.
func (s *Server) auditRetention(ctx context.Context, rep retention.Report) {
	if s.audit == nil {
		return
	}
	var parts []string
	for _, r := range rep.Results {
		part := fmt.Sprintf("%s=%d (before %s)", r.Class, r.Deleted, r.Before.UTC().Format(time.RFC3339))
		switch {
		case r.Err != nil:
			part += " FAILED: " + r.Err.Error()
		case r.Skipped != "":
			part += " skipped: " + r.Skipped
		}
		parts = append(parts, part)
	}
	sort.Strings(parts)
	expl := "retention run deleted " + fmt.Sprint(rep.Deleted()) + " items: " + strings.Join(parts, "; ")
	if len(parts) == 0 {
		expl = "retention run: every class is kept forever"
	}
	rec := audit.Change(audit.WithActor(ctx, ActorRetention), "retention_purged", "retention", rep.Start.UTC().Format(time.RFC3339), "", nil, expl)
	if _, err := s.audit.Record(ctx, rec); err != nil {
		s.log.Error("auditing retention run failed", "err", err)
	}
}

// TrainingPrivacy is how `rampart model train` protects personal data (p
// nil: privacy disabled, only the purpose rules apply):
// each raw log line is parsed (any registered format) so that its
// personal fields are known, then scrubbed; payload values are scrubbed as
// free text; input files are filtered by the purpose rules. The parser is
// per call: TrainPrivacy funcs are used from one goroutine.
func TrainingPrivacy(p *privacy.Pseudonymizer, rules purpose.Rules) *modelreg.TrainPrivacy {
	if p == nil { // privacy disabled: purposes still apply
		tp := &modelreg.TrainPrivacy{}
		if rules.Declared() {
			tp.Allow = func(path string) (bool, string) { return rules.Decide(path, purpose.Training) }
		}
		return tp
	}
	parse := format.NewAuto(format.Options{})
	ev := event.New()
	tp := &modelreg.TrainPrivacy{
		Line: func(line string) string {
			ev.ID, ev.Source, ev.Raw, ev.Received = "", "", []byte(line), time.Time{}
			clear(ev.Fields)
			if err := parse.Parse(ev.Raw, ev); err != nil {
				return p.Line(nil, line)
			}
			return p.Line(ev, line)
		},
		Text: func(s string) string { return p.Text(s, nil) },
		Describe: fmt.Sprintf("personal data pseudonymized before features were built (key epoch %d: keyed HMAC names, "+
			"prefix-preserving addresses in the internal networks, e-mail addresses, key=value user and host values)", p.Epoch()),
	}
	if rules.Declared() {
		tp.Allow = func(path string) (bool, string) { return rules.Decide(path, purpose.Training) }
	}
	return tp
}

// outputPrivacy reads and removes an alert output's "clear" key: outputs
// are an export path, so they get pseudonymized alerts when privacy is on,
// unless the config says `clear: true` for that output (recorded in the
// audit log at start by auditClearOutputs).
func (s *Server) outputPrivacy(n yaml.Node) yaml.Node {
	clearOut := false
	if n.Kind == yaml.MappingNode {
		kept := make([]*yaml.Node, 0, len(n.Content))
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "clear" {
				clearOut = n.Content[i+1].Value == "true"
				continue
			}
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
		n.Content = kept
	}
	s.gov.clearOutputs = append(s.gov.clearOutputs, clearOut)
	return n
}

// outputAlerts is what output i is sent: the alerts as stored for a clear
// output or with privacy off, pseudonymized copies (made once per batch,
// in *pseudo) otherwise.
func (s *Server) outputAlerts(i int, alerts []alert.Alert, pseudo *[]alert.Alert) []alert.Alert {
	if s.gov.p == nil || (i < len(s.gov.clearOutputs) && s.gov.clearOutputs[i]) {
		return alerts
	}
	if *pseudo == nil {
		*pseudo = make([]alert.Alert, len(alerts))
		for j, a := range alerts {
			(*pseudo)[j] = s.gov.p.Alert(a)
		}
	}
	return *pseudo
}

// auditClearOutputs records, at every start, each alert output that
// sends personal data in clear.
func (s *Server) auditClearOutputs(ctx context.Context) {
	if s.cfg.Privacy.Disabled {
		return
	}
	for i, o := range s.outputs {
		if i >= len(s.gov.clearOutputs) || !s.gov.clearOutputs[i] {
			continue
		}
		rec := audit.Change(audit.WithActor(ctx, "component:serve"), audit.ActionPolicyChanged, "alert_output", o.Name(), "", nil,
			fmt.Sprintf("alert output %s sends personal data in clear (alerts.outputs[%d].clear: true)", o.Name(), i))
		if _, err := s.audit.Record(ctx, rec); err != nil {
			s.log.Error("auditing a clear alert output failed", "output", o.Name(), "err", err)
		}
	}
}
