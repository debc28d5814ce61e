// Package threshold is Rampart's stateful threshold detector: CrowdSec-style
// leaky buckets over normalized events, one bucket per rule and group.
//
// A rule file holds one or more YAML documents, each one rule:
//
//	id: ssh-brute-force              # required, unique: [A-Za-z0-9][A-Za-z0-9_.-]*
//	title: SSH brute force           # required
//	description: …                   # optional
//	level: high                      # informational|low|medium|high|critical (default medium)
//	tags: [attack.credential-access, attack.t1110.001]
//	filter:                          # equality on ECS fields; a list means any of
//	  event.dataset: system.auth
//	  event.action: [ssh_login, ssh_invalid_user]
//	  event.outcome: failure
//	exists: [source.ip]              # fields that must be present
//	exclude:                         # events with any of these values are ignored
//	  source.ip: ["-", "127.0.0.1", "::1"]
//	group_by: [source.ip]            # one bucket per distinct value tuple
//	distinct: user.name              # optional: pour only values not yet in the bucket
//	capacity: 5                      # overflow when the bucket holds more than this
//	leak_speed: 10s                  # one unit leaks out per leak_speed
//	cooldown: 10m                    # after overflow, the group is silent this long
//	explain: failed SSH logins       # noun phrase for the explanation
//
// Unknown keys are errors, reported as file:line. A rule needs at least one
// filter or exists entry. Durations are Go durations (10s, 5m, 1h30m) or
// whole days (1d).
//
// Semantics. Each matching event leaks the bucket by the event time elapsed
// since its last update, then pours one unit (for distinct rules: only when
// the distinct value is new in the bucket). When the level exceeds capacity
// the bucket overflows: one signal is emitted, the bucket is emptied and the
// group is blackholed for cooldown (default capacity×leak_speed, at least 1m):
// matching events in that time are counted but pour nothing. A bucket that
// drains to zero forgets its events and distinct values.
//
// Everything runs on event time (Event.Time), never the wall clock; events
// without a time, or lacking a group_by or distinct field, are counted and
// skipped. Memory is bounded by Options.MaxBuckets (least recently touched
// bucket evicted and counted) and per-bucket caps on evidence ids and
// distinct values.
package threshold

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/signal"
	"go.yaml.in/yaml/v3"
)

// Limits on rule files.
const (
	maxFileBytes   = 1 << 20
	maxRules       = 1000
	maxFilterKeys  = 32
	maxFilterVals  = 256
	maxGroupBy     = 8
	maxCapacity    = 1_000_000
	maxDuration    = 30 * 24 * time.Hour
	maxStringBytes = 1024
)

// Rule is one compiled threshold rule. It is immutable once loaded.
type Rule struct {
	ID, Title, Description string
	Level                  signal.Level
	Tags, Techniques       []string
	Filter                 map[string][]string
	Exists                 []string
	Exclude                map[string][]string
	GroupBy                []string
	Distinct               string
	Capacity               int
	LeakSpeed              time.Duration
	Cooldown               time.Duration
	Explain                string
	// Path and Line locate the rule; Version is a hash of its document.
	Path    string
	Line    int
	Version string

	filterKeys []string   // sorted, for a deterministic check order
	filterVals [][]string // Filter[filterKeys[i]], saving a map lookup per check
}

var (
	idRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$`)
	dayRE    = regexp.MustCompile(`^([0-9]{1,4})d$`)
	knownKey = map[string]bool{
		"id": true, "title": true, "description": true, "level": true, "tags": true,
		"filter": true, "exists": true, "exclude": true, "group_by": true, "distinct": true,
		"capacity": true, "leak_speed": true, "cooldown": true, "explain": true,
		"author": true, "references": true, "falsepositives": true,
	}
)

// RuleError is an error in a rule file at a line.
type RuleError struct {
	Path string
	Line int
	Msg  string
}

func (e *RuleError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg) }

func errAt(path string, n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &RuleError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// LoadRules reads rule files and folders (folders: every *.yml and *.yaml
// below, in lexical order). Rule ids must be unique across all of them.
func LoadRules(paths ...string) ([]*Rule, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("threshold rules: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("threshold rules: %w", err)
		}
	}
	sort.Strings(files)
	var rules []*Rule
	byID := map[string]*Rule{}
	for _, f := range files {
		b, err := readLimited(f)
		if err != nil {
			return nil, err
		}
		rs, err := ParseRules(b, f)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if o, dup := byID[r.ID]; dup {
				return nil, &RuleError{Path: r.Path, Line: r.Line, Msg: fmt.Sprintf("rule id %q already defined at %s:%d", r.ID, o.Path, o.Line)}
			}
			byID[r.ID] = r
			rules = append(rules, r)
		}
		if len(rules) > maxRules {
			return nil, fmt.Errorf("threshold rules: more than %d rules", maxRules)
		}
	}
	return rules, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("threshold rules: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("threshold rules: read %s: %w", path, err)
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("threshold rules: %s is larger than %d bytes", path, maxFileBytes)
	}
	return b, nil
}

// ParseRules parses the rule documents of one file; path names it in errors.
func ParseRules(b []byte, path string) ([]*Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []*Rule
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
			continue // empty document, e.g. a trailing "---"
		}
		r, err := compile(doc.Content[0], path)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		if len(out) > maxRules {
			return nil, errAt(path, doc.Content[0], "more than %d rules in one file", maxRules)
		}
	}
	return out, nil
}

func compile(n *yaml.Node, path string) (*Rule, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(path, n, "a threshold rule must be a mapping")
	}
	r := &Rule{Path: path, Line: n.Line, Level: signal.LevelMedium}
	vals := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !knownKey[k.Value] {
			return nil, errAt(path, k, "unknown key %q", k.Value)
		}
		if _, dup := vals[k.Value]; dup {
			return nil, errAt(path, k, "duplicate key %q", k.Value)
		}
		vals[k.Value] = v
	}
	var err error
	str := func(key string, required bool) string {
		v := vals[key]
		if err != nil || v == nil {
			if v == nil && required && err == nil {
				err = errAt(path, n, "missing %s", key)
			}
			return ""
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || len(v.Value) > maxStringBytes {
			err = errAt(path, v, "%s must be a string (at most %d bytes)", key, maxStringBytes)
			return ""
		}
		if required && v.Value == "" {
			err = errAt(path, v, "%s is empty", key)
		}
		return v.Value
	}
	list := func(key string, max int) []string {
		v := vals[key]
		if err != nil || v == nil {
			return nil
		}
		var out []string
		out, err = scalarList(path, v, key, max)
		return out
	}
	dur := func(key string) time.Duration {
		s := str(key, false)
		if err != nil || s == "" {
			return 0
		}
		var d time.Duration
		d, err = parseDuration(s)
		if err != nil {
			err = errAt(path, vals[key], "%s: %v", key, err)
		}
		return d
	}
	r.ID = str("id", true)
	r.Title = str("title", true)
	r.Description = str("description", false)
	r.Explain = str("explain", false)
	r.Distinct = str("distinct", false)
	if lv := str("level", false); lv != "" && err == nil {
		r.Level = signal.Level(lv)
		if r.Level.Rank() < 0 {
			err = errAt(path, vals["level"], "level %q: want informational, low, medium, high or critical", lv)
		}
	}
	r.Tags = list("tags", 64)
	r.Exists = list("exists", maxFilterKeys)
	r.GroupBy = list("group_by", maxGroupBy)
	r.LeakSpeed = dur("leak_speed")
	r.Cooldown = dur("cooldown")
	if err != nil {
		return nil, err
	}
	if r.Filter, err = valueMap(path, vals["filter"], "filter"); err != nil {
		return nil, err
	}
	if r.Exclude, err = valueMap(path, vals["exclude"], "exclude"); err != nil {
		return nil, err
	}
	if !idRE.MatchString(r.ID) {
		return nil, errAt(path, vals["id"], "id %q: use letters, digits, _ . - (at most 128)", r.ID)
	}
	if len(r.Filter) == 0 && len(r.Exists) == 0 {
		return nil, errAt(path, n, "rule %s needs a filter or exists (a rule over all events is almost surely a mistake)", r.ID)
	}
	if len(r.GroupBy) == 0 {
		return nil, errAt(path, orNode(vals["group_by"], n), "rule %s needs group_by (one or more fields)", r.ID)
	}
	capNode := vals["capacity"]
	if capNode == nil {
		return nil, errAt(path, n, "missing capacity")
	}
	c, cerr := strconv.Atoi(capNode.Value)
	if cerr != nil || capNode.Kind != yaml.ScalarNode || capNode.Tag == "!!str" || c < 1 || c > maxCapacity {
		return nil, errAt(path, capNode, "capacity must be a whole number from 1 to %d", maxCapacity)
	}
	r.Capacity = c
	if vals["leak_speed"] == nil {
		return nil, errAt(path, n, "missing leak_speed")
	}
	if r.LeakSpeed <= 0 {
		return nil, errAt(path, vals["leak_speed"], "leak_speed must be positive")
	}
	if r.Cooldown == 0 && vals["cooldown"] == nil {
		r.Cooldown = max(time.Duration(r.Capacity)*r.LeakSpeed, time.Minute)
	}
	if r.Cooldown > maxDuration {
		r.Cooldown = maxDuration
	}
	r.Techniques = signal.TechniquesFromTags(r.Tags)
	for k := range r.Filter {
		r.filterKeys = append(r.filterKeys, k)
	}
	sort.Strings(r.filterKeys)
	for _, k := range r.filterKeys {
		r.filterVals = append(r.filterVals, r.Filter[k])
	}
	// The version hashes the compiled rule, so comments and layout do not
	// change it (a reload keeps the buckets of unchanged rules).
	canon := *r
	canon.Path, canon.Line, canon.filterKeys, canon.filterVals = "", 0, nil, nil
	b, jerr := json.Marshal(canon)
	if jerr != nil {
		return nil, errAt(path, n, "rule %s: %v", r.ID, jerr)
	}
	h := sha256.Sum256(b)
	r.Version = hex.EncodeToString(h[:8])
	return r, nil
}

func orNode(ns ...*yaml.Node) *yaml.Node {
	for _, n := range ns {
		if n != nil {
			return n
		}
	}
	return nil
}

// parseDuration accepts Go durations and whole days ("1d").
func parseDuration(s string) (time.Duration, error) {
	var d time.Duration
	if m := dayRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration (e.g. 10s, 5m, 1h30m, 1d)", s)
		}
	}
	if d < 0 || d > maxDuration {
		return 0, fmt.Errorf("%q must be between 0 and %s", s, maxDuration)
	}
	return d, nil
}

func scalarList(path string, v *yaml.Node, key string, max int) ([]string, error) {
	var nodes []*yaml.Node
	switch v.Kind {
	case yaml.ScalarNode:
		nodes = []*yaml.Node{v}
	case yaml.SequenceNode:
		nodes = v.Content
	default:
		return nil, errAt(path, v, "%s must be a value or a list of values", key)
	}
	if len(nodes) > max {
		return nil, errAt(path, v, "%s has more than %d values", key, max)
	}
	out := make([]string, 0, len(nodes))
	for _, c := range nodes {
		if c.Kind != yaml.ScalarNode || c.Tag == "!!null" || c.Value == "" || len(c.Value) > maxStringBytes {
			return nil, errAt(path, c, "%s: values must be non-empty strings or numbers", key)
		}
		out = append(out, c.Value)
	}
	return out, nil
}

func valueMap(path string, v *yaml.Node, key string) (map[string][]string, error) {
	if v == nil {
		return nil, nil
	}
	if v.Kind != yaml.MappingNode {
		return nil, errAt(path, v, "%s must map field names to a value or a list of values", key)
	}
	if len(v.Content)/2 > maxFilterKeys {
		return nil, errAt(path, v, "%s has more than %d fields", key, maxFilterKeys)
	}
	out := map[string][]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k := v.Content[i]
		if k.Value == "" {
			return nil, errAt(path, k, "%s: empty field name", key)
		}
		if _, dup := out[k.Value]; dup {
			return nil, errAt(path, k, "%s: duplicate field %q", key, k.Value)
		}
		vals, err := scalarList(path, v.Content[i+1], key+"."+k.Value, maxFilterVals)
		if err != nil {
			return nil, err
		}
		out[k.Value] = vals
	}
	return out, nil
}
