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
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
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

// DecodeConfig strictly decodes an output's config node into dst (unknown
// keys are errors; "kind" is skipped) and validates it. It returns the
// instance name from the "name" key ("" if absent).
func DecodeConfig(node *yaml.Node, dst Validator) (string, error) {
	name := ""
	if node != nil {
		if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
			node = node.Content[0]
		}
		if node.Kind != yaml.MappingNode {
			return "", fmt.Errorf("line %d: output config must be a mapping", node.Line)
		}
		rest := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
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
		b, err := yaml.Marshal(rest)
		if err != nil {
			return "", fmt.Errorf("line %d: encoding output config: %w", node.Line, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(dst); err != nil && !errors.Is(err, errEOF) {
			return "", fmt.Errorf("output at line %d: %w", node.Line, err)
		}
	}
	if err := dst.Validate(); err != nil {
		return "", fmt.Errorf("output: %w", err)
	}
	return name, nil
}

// errEOF is what an empty document decodes to.
var errEOF = eofError()

func eofError() error {
	var v struct{}
	return yaml.NewDecoder(bytes.NewReader(nil)).Decode(&v)
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
