// Package file is the "file" alert output: alerts appended as JSON lines
// (output.Record) to a file, optionally rotated by size.
package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/output"
)

// Kind is the config kind.
const Kind = "file"

func init() {
	output.Register(Kind, func(node *yaml.Node, deps output.Deps) (output.Output, error) {
		var c Config
		name, err := output.DecodeConfig(node, &c)
		if err != nil {
			return nil, err
		}
		c.Name = name
		return New(c, deps)
	})
}

// Config configures the file output.
type Config struct {
	// Name is the instance name (default "file").
	Name string `yaml:"-"`
	// Path is the file alerts are appended to; its folder must exist.
	Path string `yaml:"path"`
	// MaxBytes rotates the file (path → path.1 → path.2 …) before a write
	// would grow it past this size; 0 never rotates.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxBackups is how many rotated files are kept (default 5).
	MaxBackups int `yaml:"max_backups"`
	// Sync fsyncs after every Send, not only on Close.
	Sync bool `yaml:"sync"`
}

// Validate checks the config without I/O.
func (c *Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path: required"))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, errors.New("max_bytes: must not be negative"))
	}
	if c.MaxBackups < 0 || c.MaxBackups > 1000 {
		errs = append(errs, errors.New("max_backups: must be between 0 and 1000"))
	}
	return errors.Join(errs...)
}

// Output appends alerts to a file.
type Output struct {
	cfg  Config
	log  *slog.Logger
	mu   sync.Mutex
	f    *os.File
	size int64
}

var _ output.Output = (*Output)(nil)

// New opens (or creates, mode 0600) the file for appending.
func New(cfg Config, deps output.Deps) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("file output: %w", err)
	}
	if cfg.Name == "" {
		cfg.Name = Kind
	}
	if cfg.MaxBackups == 0 {
		cfg.MaxBackups = 5
	}
	deps = deps.WithDefaults()
	o := &Output{cfg: cfg, log: deps.Logger.With("component", "output/file", "output", cfg.Name)}
	if err := o.open(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *Output) open() error {
	f, err := os.OpenFile(o.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening alert file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening alert file: %w", err)
	}
	o.f, o.size = f, st.Size()
	return nil
}

// Name implements output.Output.
func (o *Output) Name() string { return o.cfg.Name }

// Send appends one JSON line per alert. A batch is written with one write
// call (rotating first if it would overflow MaxBytes).
func (o *Output) Send(ctx context.Context, alerts []alert.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file output: %w", err)
	}
	var buf bytes.Buffer
	for i := range alerts {
		buf.Write(output.EncodeJSON(&alerts[i]))
		buf.WriteByte('\n')
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return output.ErrClosed
	}
	if o.cfg.MaxBytes > 0 && o.size > 0 && o.size+int64(buf.Len()) > o.cfg.MaxBytes {
		if err := o.rotate(); err != nil {
			return err
		}
	}
	n, err := o.f.Write(buf.Bytes())
	o.size += int64(n)
	if err != nil {
		return fmt.Errorf("writing alert file %s: %w", o.cfg.Path, err)
	}
	if o.cfg.Sync {
		if err := o.f.Sync(); err != nil {
			return fmt.Errorf("syncing alert file %s: %w", o.cfg.Path, err)
		}
	}
	return nil
}

// rotate closes the file, shifts path.N → path.N+1 (dropping the oldest)
// and reopens path. Called with mu held.
func (o *Output) rotate() error {
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("syncing alert file before rotation: %w", err)
	}
	if err := o.f.Close(); err != nil {
		return fmt.Errorf("closing alert file before rotation: %w", err)
	}
	o.f = nil
	p := o.cfg.Path
	backup := func(i int) string { return p + "." + strconv.Itoa(i) }
	if err := os.Remove(backup(o.cfg.MaxBackups)); err != nil && !errors.Is(err, os.ErrNotExist) {
		o.log.Warn("removing oldest alert file", "err", err)
	}
	for i := o.cfg.MaxBackups - 1; i >= 1; i-- {
		if err := os.Rename(backup(i), backup(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return errors.Join(fmt.Errorf("rotating alert file: %w", err), o.open())
		}
	}
	if err := os.Rename(p, backup(1)); err != nil {
		// Keep appending to the unrotated file rather than losing alerts.
		return errors.Join(fmt.Errorf("rotating alert file: %w", err), o.open())
	}
	o.log.Info("alert file rotated", "path", filepath.Clean(p))
	return o.open()
}

// Close fsyncs and closes the file.
func (o *Output) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return nil
	}
	f := o.f
	o.f = nil
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("closing alert file %s: %w", o.cfg.Path, err)
	}
	return nil
}
