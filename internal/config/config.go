// Package config loads Rampart's YAML configuration. Decoding is strict:
// unknown keys are errors, and every error names the file and line.
// The Config is read-only after Load.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/output"
	"github.com/rampart-ids/rampart/internal/privacy"
	"github.com/rampart-ids/rampart/internal/retention"
)

// Config is the root of rampart.yaml.
type Config struct {
	// DataDir holds the SQLite database and local state.
	DataDir string `yaml:"data_dir"`
	HTTP    HTTP   `yaml:"http"`
	Syslog  Syslog `yaml:"syslog"`
	// Files are file inputs (paths and globs, followed with rotation).
	Files []FileInput `yaml:"files"`
	// NATS are NATS JetStream inputs (durable pull consumers).
	NATS      []NATSInput `yaml:"nats"`
	Rules     Rules       `yaml:"rules"`
	Alerts    Alerts      `yaml:"alerts"`
	Store     Store       `yaml:"store"`
	Retention Retention   `yaml:"retention"`
	Pipeline  Pipeline    `yaml:"pipeline"`
	// Time resolves RFC 3164 timestamps, which carry no year or zone.
	Time TimeConfig `yaml:"time"`
	// Privacy configures pseudonymization of personal data for lower roles,
	// exports and training (see docs/privacy.md).
	Privacy Privacy `yaml:"privacy"`
	// Path is the file the config was read from ("" for the defaults), for
	// errors found later (output kinds) to name it.
	Path string `yaml:"-"`
}

// Privacy is the privacy section: privacy.Config plus an off switch.
type Privacy struct {
	Disabled       bool `yaml:"disabled"`
	privacy.Config `yaml:",inline"`
}

// HTTP configures the API listener.
type HTTP struct {
	Listen string `yaml:"listen"`
	// MaxBodyBytes bounds an ingest request body (after decompression).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxBatch bounds records per ingest request.
	MaxBatch int `yaml:"max_batch"`
	// IngestRate bounds ingest requests per second per token (burst = 2×).
	IngestRate float64 `yaml:"ingest_rate"`
	// PublicMetrics serves /metrics without a token (for a local Prometheus).
	PublicMetrics bool `yaml:"public_metrics"`
	// TLSCert and TLSKey serve HTTPS with a configured certificate.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// TLSSelfSigned serves HTTPS with a self-signed certificate made on first
	// start and kept in the data dir (for local use; ignored when TLSCert is set).
	TLSSelfSigned bool `yaml:"tls_self_signed"`
}

// Syslog configures the syslog listener; empty addresses disable a transport.
type Syslog struct {
	UDP            string `yaml:"udp"`
	TCP            string `yaml:"tcp"`
	MaxMessage     int    `yaml:"max_message"`
	MaxConnections int    `yaml:"max_connections"`
	// ExpectEvery is how often records are expected; silence for 3× this raises an input-silent alert (0: off).
	ExpectEvery Duration `yaml:"expect_every"`
}

// FileInput is one file input.
type FileInput struct {
	Name   string   `yaml:"name"`
	Paths  []string `yaml:"paths"`
	Format string   `yaml:"format"`
	// ExpectEvery is how often records are expected; silence for 3× this raises an input-silent alert (0: off).
	ExpectEvery Duration `yaml:"expect_every"`
}

// NATSInput reads a JetStream stream through a durable consumer; records
// are acknowledged once stored.
type NATSInput struct {
	Name    string `yaml:"name"`
	URL     string `yaml:"url"`
	Token   Secret `yaml:"token"`
	Creds   string `yaml:"creds_file"`
	Stream  string `yaml:"stream"`
	Subject string `yaml:"subject"`
	Durable string `yaml:"durable"`
	Format  string `yaml:"format"`
	// AckWait is how long a record may take to be stored before the server
	// delivers it again (default 5m).
	AckWait Duration `yaml:"ack_wait"`
	// ExpectEvery is how often records are expected; silence for 3× this raises an input-silent alert (0: off).
	ExpectEvery Duration `yaml:"expect_every"`
}

// Rules selects the rule layer's rules.
type Rules struct {
	// Sigma, Threshold and IOC are files or folders; empty means the bundled rules.
	Sigma     []string `yaml:"sigma"`
	Threshold []string `yaml:"threshold"`
	IOC       []string `yaml:"ioc"`
	// MinLevel drops Sigma rules below this level.
	MinLevel string `yaml:"min_level"`
	// Status keeps Sigma rules with these statuses (empty: all but deprecated and unsupported).
	Status []string `yaml:"status"`
	// Tags keeps only Sigma rules with at least one of these tags (empty: all).
	Tags []string `yaml:"tags"`
	// Disabled lists rule ids that never run.
	Disabled []string `yaml:"disabled"`
	// Exceptions is a YAML file of local exceptions.
	Exceptions string `yaml:"exceptions"`
	// ReloadEvery re-reads rule and indicator files on this interval (0: only on SIGHUP or API).
	ReloadEvery Duration `yaml:"reload_every"`
	// IDS configures the pass-through of Suricata alerts and Zeek notices
	// (severity → level maps, min_level; see internal/detect/ids). Empty: defaults.
	IDS map[string]any `yaml:"ids"`
}

// Alerts configures alerting.
type Alerts struct {
	// Throttle folds signals of one rule about one entity within this window into one alert.
	Throttle Duration `yaml:"throttle"`
	// Outputs are alert destinations; each has a kind and the kind's own keys.
	Outputs []Output `yaml:"outputs"`
}

// Output is one alert output: its kind and the raw node the kind decodes strictly.
type Output struct {
	Kind string
	Node yaml.Node
	Line int
}

// UnmarshalYAML keeps the node for the output kind to decode.
func (o *Output) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: an output must be a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			o.Kind = n.Content[i+1].Value
		}
	}
	if o.Kind == "" {
		return fmt.Errorf("line %d: output needs a kind", n.Line)
	}
	o.Node = *n
	o.Line = n.Line
	return nil
}

// Store selects the store.
type Store struct {
	// Driver is "sqlite" (default, in DataDir) or "postgres".
	Driver string `yaml:"driver"`
	// DSN is the PostgreSQL connection string (postgres only).
	DSN Secret `yaml:"dsn"`
}

// Retention bounds how long data is kept.
type Retention struct {
	// Events (normalized, with their raw record), Quarantine and Alerts (with
	// their verdicts) are deleted after these durations; 0 keeps them.
	Events     Duration `yaml:"events"`
	Quarantine Duration `yaml:"quarantine"`
	Alerts     Duration `yaml:"alerts"`
	// RawEvents empties events' raw records earlier than Events deletes
	// them; Verdicts, Models (registry versions neither active nor previous),
	// Audit (whole signed segments; at least MinAudit, default 365d) and
	// PrivacyMappings (sealed pseudonym originals) likewise; 0 keeps them.
	// See internal/retention and docs/privacy.md.
	RawEvents       Duration `yaml:"raw_events"`
	Verdicts        Duration `yaml:"verdicts"`
	Models          Duration `yaml:"models"`
	Audit           Duration `yaml:"audit"`
	MinAudit        Duration `yaml:"min_audit"`
	PrivacyMappings Duration `yaml:"privacy_mappings"`
}

// Pipeline tunes the pipeline.
type Pipeline struct {
	QueueSize      int `yaml:"queue_size"`
	BatchSize      int `yaml:"batch_size"`
	MaxRecordBytes int `yaml:"max_record_bytes"`
	// StoreEvents is "all" (every event is kept for the retention window) or
	// "evidence" (only events that raised a signal).
	StoreEvents string `yaml:"store_events"`
	// CheckpointEvery is how often the stateful detectors' state is saved
	// with the file offsets it matches (default 1m; see app.Checkpoints).
	CheckpointEvery Duration `yaml:"checkpoint_every"`
}

// TimeConfig resolves timestamps without a zone or year.
type TimeConfig struct {
	// Zone is an IANA zone name for RFC 3164 timestamps (default UTC).
	Zone string `yaml:"zone"`
	// Year, when set, is used for RFC 3164 timestamps instead of inferring it.
	Year int `yaml:"year"`
}

// Duration is a time.Duration written as "10m", "1h30m", "7d".
type Duration time.Duration

// UnmarshalYAML parses Go durations plus a "d" (day) unit.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

var dayRE = regexp.MustCompile(`^(\d+)d(.*)$`)

// ParseDuration parses "90s", "10m", "1h", "7d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	var days time.Duration
	if m := dayRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = m[2]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return days + d, nil
}

// Secret is a string that never prints.
type Secret string

// String hides the value.
func (Secret) String() string { return "REDACTED" }

// LogValue hides the value from slog.
func (Secret) LogValue() any { return "REDACTED" }

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		DataDir: "./rampart-data",
		HTTP:    HTTP{Listen: "127.0.0.1:8080", MaxBodyBytes: 32 << 20, MaxBatch: 100000, IngestRate: 200},
		Syslog:  Syslog{MaxMessage: 64 << 10, MaxConnections: 256},
		Rules:   Rules{MinLevel: "low"},
		Alerts:  Alerts{Throttle: Duration(10 * time.Minute)},
		Store:   Store{Driver: "sqlite"},
		Retention: Retention{
			Events: Duration(7 * 24 * time.Hour), Quarantine: Duration(30 * 24 * time.Hour),
			Alerts: Duration(365 * 24 * time.Hour), PrivacyMappings: Duration(400 * 24 * time.Hour),
		},
		Pipeline: Pipeline{QueueSize: 8192, BatchSize: 2048, MaxRecordBytes: 1 << 20, StoreEvents: "all", CheckpointEvery: Duration(time.Minute)},
		// Viewers see pseudonyms; the roles that triage and respond see clear data.
		Privacy: Privacy{Config: privacy.Config{ClearRoles: []string{"analyst", "responder", "admin"}}},
	}
}

// Load reads a config file over the defaults. Every error names path:line.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named path in errors) over the defaults and validates it.
func Parse(path string, data []byte) (Config, error) {
	cfg := Default()
	cfg.Path = path
	if len(bytes.TrimSpace(data)) == 0 {
		return cfg, nil
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root) // a syntax error is reported by Decode
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, positionError(path, &root, err)
	}
	cfg.Rules.IDS = stringKeys(cfg.Rules.IDS)
	if err := cfg.validate(path, &root); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// stringKeys turns the map[any]any yaml.v3 makes of a mapping with
// non-string keys ("1: high") into map[string]any, all the way down, so
// detector configs see one map shape whatever the keys look like.
func stringKeys(m map[string]any) map[string]any {
	for k, v := range m {
		m[k] = stringKeysAny(v)
	}
	return m
}

func stringKeysAny(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return stringKeys(t)
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, v := range t {
			out[fmt.Sprint(k)] = stringKeysAny(v)
		}
		return out
	case []any:
		for i := range t {
			t[i] = stringKeysAny(t[i])
		}
	}
	return v
}

var (
	lineRE     = regexp.MustCompile(`line (\d+): `)
	notFoundRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// positionError rewrites yaml.v3's "line N: msg" errors as "path:N: key: msg",
// one per line, in the words of the config file (not of Go types).
func positionError(path string, root *yaml.Node, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	errs := make([]error, 0, len(msgs))
	for _, msg := range msgs {
		m := lineRE.FindStringSubmatch(msg)
		if m == nil {
			errs = append(errs, fmt.Errorf("%s: %s", path, msg))
			continue
		}
		msg = lineRE.ReplaceAllString(msg, "")
		if notFoundRE.MatchString(msg) {
			msg = "unknown key"
		}
		line, _ := strconv.Atoi(m[1])
		if key := keyAt(root, line); key != "" {
			msg = key + ": " + msg
		}
		errs = append(errs, fmt.Errorf("%s:%d: %s", path, line, msg))
	}
	return errors.Join(errs...)
}

// keyAt returns the key path ("alerts.throttle", "files[0].name") of the
// last mapping key on line; "" if there is none.
func keyAt(root *yaml.Node, line int) string {
	var best string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := k.Value
				if path != "" {
					p = path + "." + p
				}
				if k.Line == line {
					best = p
				}
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(root, "")
	return best
}

// lineOf finds the line of a key path in the document ("http.listen",
// "files[0].paths[1]"); the nearest enclosing line if it is absent.
func lineOf(root *yaml.Node, keyPath string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, k := range strings.Split(keyPath, ".") {
		var idx []int
		if i := strings.IndexByte(k, '['); i >= 0 {
			for _, s := range strings.Split(strings.TrimSuffix(k[i+1:], "]"), "][") {
				j, err := strconv.Atoi(s)
				if err != nil {
					return line
				}
				idx = append(idx, j)
			}
			k = k[:i]
		}
		found := false
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					line = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
		}
		if !found {
			return line
		}
		for _, j := range idx {
			if n.Kind != yaml.SequenceNode || j < 0 || j >= len(n.Content) {
				return line
			}
			n = n.Content[j]
			line = n.Line
		}
	}
	return line
}

func (c *Config) validate(path string, root *yaml.Node) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", path, lineOf(root, key), key, fmt.Sprintf(format, args...)))
	}
	checkAddr := func(key, addr string) {
		if addr == "" {
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "invalid address %q (want host:port)", addr)
		}
	}
	checkAddr("http.listen", c.HTTP.Listen)
	checkAddr("syslog.udp", c.Syslog.UDP)
	checkAddr("syslog.tcp", c.Syslog.TCP)
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		bad("http", "tls_cert and tls_key must be set together")
	}
	if c.HTTP.MaxBodyBytes <= 0 || c.HTTP.MaxBodyBytes > 1<<30 {
		bad("http.max_body_bytes", "must be between 1 and 1 GiB")
	}
	switch c.Store.Driver {
	case "sqlite", "":
	case "postgres":
		if c.Store.DSN == "" {
			bad("store.dsn", "postgres needs a dsn")
		}
	default:
		bad("store.driver", "unknown driver %q (sqlite or postgres)", c.Store.Driver)
	}
	switch c.Rules.MinLevel {
	case "", "informational", "low", "medium", "high", "critical":
	default:
		bad("rules.min_level", "unknown level %q", c.Rules.MinLevel)
	}
	for i, f := range c.Files {
		if len(f.Paths) == 0 {
			bad(fmt.Sprintf("files[%d]", i), "file input %q has no paths", f.Name)
		}
		for j, p := range f.Paths {
			if _, err := filepath.Match(p, ""); err != nil {
				bad(fmt.Sprintf("files[%d].paths[%d]", i, j), "bad pattern %q: %v", p, err)
			}
		}
	}
	for i, n := range c.NATS {
		at := fmt.Sprintf("nats[%d]", i)
		switch {
		case n.Name == "":
			bad(at+".name", "is required")
		case n.URL == "":
			bad(at+".url", "is required")
		case n.Stream == "":
			bad(at+".stream", "is required")
		case n.Token != "" && n.Creds != "":
			bad(at, "token and creds_file are exclusive")
		}
	}
	if c.Time.Zone != "" {
		if _, err := time.LoadLocation(c.Time.Zone); err != nil {
			bad("time.zone", "unknown zone %q", c.Time.Zone)
		}
	}
	if c.Pipeline.StoreEvents != "all" && c.Pipeline.StoreEvents != "evidence" {
		bad("pipeline.store_events", "must be all or evidence")
	}
	if c.Pipeline.QueueSize <= 0 || c.Pipeline.QueueSize > 1<<22 {
		bad("pipeline.queue_size", "must be between 1 and 4194304")
	}
	if d := time.Duration(c.Pipeline.CheckpointEvery); d < time.Second || d > 24*time.Hour {
		bad("pipeline.checkpoint_every", "must be between 1s and 24h")
	}
	if !c.Privacy.Disabled {
		if err := c.Privacy.Validate(); err != nil {
			bad("privacy", "%v", err)
		}
	}
	if err := c.Retention.Policy().Validate(); err != nil {
		bad("retention", "%v", err)
	}
	return errors.Join(errs...)
}

// OutputError reports err, met building alerts.outputs[i], in the words
// of every other config error: "file:line: alerts.outputs[i].key: reason",
// one line per problem (output.ConfigError carries the line and key).
func (c *Config) OutputError(i int, err error) error {
	if err == nil {
		return nil
	}
	line := 0
	if i >= 0 && i < len(c.Alerts.Outputs) {
		line = c.Alerts.Outputs[i].Line
	}
	key := fmt.Sprintf("alerts.outputs[%d]", i)
	var errs []error
	for _, e := range leafErrors(err) {
		var ce *output.ConfigError
		if errors.As(e, &ce) {
			k := key
			if ce.Key != "" {
				k += "." + ce.Key
			}
			errs = append(errs, fmt.Errorf("%s:%d: %s: %s", c.Path, ce.Line, k, ce.Msg))
			continue
		}
		errs = append(errs, fmt.Errorf("%s:%d: %s: %w", c.Path, line, key, e))
	}
	return errors.Join(errs...)
}

// leafErrors flattens joined errors.
func leafErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// Policy is the retention section as a retention.Policy.
func (r Retention) Policy() retention.Policy {
	return retention.Policy{
		RawEvents: time.Duration(r.RawEvents), Events: time.Duration(r.Events), Alerts: time.Duration(r.Alerts),
		Verdicts: time.Duration(r.Verdicts), Models: time.Duration(r.Models), Audit: time.Duration(r.Audit),
		Quarantine: time.Duration(r.Quarantine), Mappings: time.Duration(r.PrivacyMappings), MinAudit: time.Duration(r.MinAudit),
	}
}
