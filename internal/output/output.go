// Package output defines alert outputs: destinations that receive alerts as
// they are raised (a JSON-lines file, a webhook, syslog). Each kind lives in
// its own sub-package and registers a Factory under its kind name, so the
// config names kinds ("file", "webhook", "syslog") instead of a switch.
//
// The wire shape of an alert is Record (snake_case JSON); every kind that
// sends JSON uses it, so receivers see one schema.
//
// Example config (each entry is decoded strictly by its kind):
//
//	alerts:
//	  outputs:
//	    - kind: file
//	      path: /var/lib/rampart/alerts.jsonl
//	      max_bytes: 104857600
//	    - kind: webhook
//	      url: https://soar.example/hooks/rampart
//	      secret_env: RAMPART_WEBHOOK_SECRET
//	      timeout: 10s
//	      max_attempts: 4
//	    - kind: syslog
//	      name: siem
//	      address: siem.example:6514
//	      network: tcp
//	      format: cef
package output

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/alert"
)

var (
	// ErrClosed means Send was called after Close.
	ErrClosed = errors.New("output closed")
	// ErrUnknownKind means no factory is registered under the kind.
	ErrUnknownKind = errors.New("unknown output kind")
)

// An Output delivers alerts to one destination.
//
// Send may be called from several goroutines; implementations serialize
// internally. Send does not retain alerts. It returns when the batch is
// delivered (or buffered by the OS, for files and UDP), when delivery failed
// after the kind's bounded retries, or when ctx is done (returning an error
// wrapping ctx.Err()). An empty batch is a no-op. After Close, Send returns
// ErrClosed. Close flushes and releases resources; it is safe to call twice.
type Output interface {
	// Name is the instance name (from config "name", default the kind).
	Name() string
	Send(ctx context.Context, alerts []alert.Alert) error
	Close() error
}

// Deps are the collaborators a factory may use; nil fields get defaults.
type Deps struct {
	// Logger receives the kind's logs; nil discards.
	Logger *slog.Logger
	// Now is the wall clock (signature timestamps, syslog headers); nil is time.Now.
	Now func() time.Time
}

// WithDefaults fills nil fields.
func (d Deps) WithDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}

// Factory builds an output from its config node (a mapping that also holds
// "kind" and optionally "name"; the factory decodes it strictly).
type Factory func(node *yaml.Node, deps Deps) (Output, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

// Register adds an output kind. It panics on a duplicate kind (a programming error).
func Register(kind string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[kind]; dup {
		panic(fmt.Sprintf("output: duplicate output kind %q", kind))
	}
	registry[kind] = f
}

// New builds an output of a registered kind.
func New(kind string, node *yaml.Node, deps Deps) (Output, error) {
	regMu.RLock()
	f, ok := registry[kind]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownKind, kind, Kinds())
	}
	return f(node, deps.WithDefaults())
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Validator is a config that can check itself without I/O.
type Validator interface{ Validate() error }

// A ConfigError is one problem with an output's config, at its line in the
// config file: Key is the key path within the output's mapping ("" for
// the mapping itself). DecodeConfig returns these (joined), so that the
// config's owner can report them as "file:line: alerts.outputs[i].key: msg".
type ConfigError struct {
	Line int
	Key  string
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Key, e.Msg)
}

var typeErrLine = regexp.MustCompile(`^line (\d+): `)

// DecodeConfig strictly decodes an output's config node into dst (unknown
// keys are errors; "kind" is skipped) and validates it. It returns the
// instance name from the "name" key ("" if absent). Errors are
// *ConfigError values (joined), with the lines of the original node: the
// node is decoded in place, never re-encoded.
func DecodeConfig(node *yaml.Node, dst Validator) (string, error) {
	name := ""
	line := 0
	var rest *yaml.Node
	if node != nil {
		if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
			node = node.Content[0]
		}
		line = node.Line
		if node.Kind != yaml.MappingNode {
			return "", &ConfigError{Line: node.Line, Msg: "output config must be a mapping"}
		}
		rest = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: node.Line, Column: node.Column}
		for i := 0; i+1 < len(node.Content); i += 2 {
			switch node.Content[i].Value {
			case "kind":
				continue
			case "name":
				name = node.Content[i+1].Value
				continue
			}
			rest.Content = append(rest.Content, node.Content[i], node.Content[i+1])
		}
		var errs []error
		unknownKeys(rest, reflect.TypeOf(dst), "", &errs)
		if err := rest.Decode(dst); err != nil {
			errs = append(errs, typeErrors(rest, err))
		}
		if len(errs) > 0 {
			return "", errors.Join(errs...)
		}
	}
	if err := dst.Validate(); err != nil {
		return "", validateErrors(rest, line, err)
	}
	return name, nil
}

// unknownKeys reports the keys of mapping n that the struct type t (or
// the struct it points to) has no field for, recursing into struct fields,
// as yaml's KnownFields does.
func unknownKeys(n *yaml.Node, t reflect.Type, prefix string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil || n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ft, ok := fields[k.Value]
		if !ok {
			*errs = append(*errs, &ConfigError{Line: k.Line, Key: prefix + k.Value, Msg: "unknown key"})
			continue
		}
		unknownKeys(n.Content[i+1], ft, prefix+k.Value+".", errs)
	}
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// yamlFields maps the yaml keys of struct type t to their field types,
// as yaml.v3 names them: the tag's name, else the lower-cased field name;
// "-" and unexported fields are skipped, ",inline" structs flattened.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		key, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				maps.Copy(out, yamlFields(ft))
			}
			continue
		}
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		out[key] = f.Type
	}
	return out
}

// typeErrors turns yaml's "line N: cannot unmarshal …" into ConfigErrors
// naming the key on that line.
func typeErrors(n *yaml.Node, err error) error {
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	errs := make([]error, 0, len(msgs))
	for _, msg := range msgs {
		ce := &ConfigError{Line: n.Line, Msg: msg}
		if m := typeErrLine.FindStringSubmatch(msg); m != nil {
			ce.Line, _ = strconv.Atoi(m[1])
			ce.Msg = strings.TrimPrefix(msg, m[0])
			ce.Key = keyOnLine(n, ce.Line)
		}
		errs = append(errs, ce)
	}
	return errors.Join(errs...)
}

// validateErrors places Validate's "key: reason" errors at their key's
// line (the mapping's line when the key is absent, e.g. "path: required").
func validateErrors(n *yaml.Node, line int, err error) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	errs := make([]error, 0, len(list))
	for _, e := range list {
		ce := &ConfigError{Line: line, Msg: e.Error()}
		if key, msg, ok := strings.Cut(e.Error(), ": "); ok && !strings.ContainsAny(key, " \t") {
			ce.Key, ce.Msg = key, msg
			if l := keyLine(n, key); l > 0 {
				ce.Line = l
			}
		}
		errs = append(errs, ce)
	}
	return errors.Join(errs...)
}

// keyOnLine returns the path of the last key of mapping n on line.
func keyOnLine(n *yaml.Node, line int) string {
	best := ""
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := prefix + n.Content[i].Value
				if n.Content[i].Line == line {
					best = p
				}
				walk(n.Content[i+1], p+".")
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, strings.TrimSuffix(prefix, ".")+"["+strconv.Itoa(i)+"].")
			}
		}
	}
	if n != nil {
		walk(n, "")
	}
	return best
}

// keyLine returns the line of top-level key in mapping n, 0 if absent.
func keyLine(n *yaml.Node, key string) int {
	if n == nil {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return 0
}

// Secret is a string that never prints or logs (signing keys, tokens).
type Secret string

// String hides the value.
func (Secret) String() string { return "REDACTED" }

// GoString hides the value from %#v.
func (Secret) GoString() string { return "REDACTED" }

// LogValue hides the value from slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// MarshalJSON hides the value from JSON dumps of a config.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"REDACTED"`), nil }

// Reveal returns the value, for the one place that uses it.
func (s Secret) Reveal() string { return string(s) }

// MarshalYAML hides the value from YAML dumps of a config.
func (Secret) MarshalYAML() (any, error) { return "REDACTED", nil }
