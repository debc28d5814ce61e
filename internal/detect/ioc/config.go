package ioc

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/signal"
)

// Defaults for Options.
const (
	DefaultMaxFileBytes  = 256 << 20
	DefaultMaxIndicators = 10_000_000
)

// ListConfig names one indicator list: a file, or a folder whose files with
// a known extension (.txt .list .ioc .csv .json .stix) are all loaded.
type ListConfig struct {
	// Name is the list's source name (RuleID "ioc:<name>"). Empty means the
	// file's base name without extension, per file.
	Name string `yaml:"name"`
	// Path is a file or a folder.
	Path string `yaml:"path"`
	// Format forces "plain", "csv" or "stix"; empty detects it from the
	// extension and content.
	Format string `yaml:"format"`
	// Level of the signals from this list; empty means the detector default.
	Level signal.Level `yaml:"level"`
}

// Validate checks a list entry without touching the file system.
func (l ListConfig) Validate() error {
	var errs []error
	if l.Path == "" {
		errs = append(errs, errors.New("path: required"))
	}
	switch l.Format {
	case "", "plain", "csv", "stix":
	default:
		errs = append(errs, fmt.Errorf("format: %q is not plain, csv or stix", l.Format))
	}
	if l.Level != "" && l.Level.Rank() < 0 {
		errs = append(errs, fmt.Errorf("level: unknown level %q", l.Level))
	}
	return errors.Join(errs...)
}

// Config is the "ioc" section of the detector config.
type Config struct {
	// Lists are the indicator lists; rule paths given to the detector are
	// added as lists named after their files.
	Lists []ListConfig `yaml:"lists"`
	// Level is the default signal level (default high).
	Level signal.Level `yaml:"level"`
	// MaxFileBytes bounds one indicator file (default 256 MiB).
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	// MaxIndicators bounds the indicators loaded over all lists (default 10M).
	MaxIndicators int `yaml:"max_indicators"`
}

// Validate checks the config without touching the file system.
func (c Config) Validate() error {
	var errs []error
	for i, l := range c.Lists {
		if err := l.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("lists[%d]: %w", i, err))
		}
	}
	if c.Level != "" && c.Level.Rank() < 0 {
		errs = append(errs, fmt.Errorf("level: unknown level %q", c.Level))
	}
	if c.MaxFileBytes < 0 {
		errs = append(errs, errors.New("max_file_bytes: must not be negative"))
	}
	if c.MaxIndicators < 0 {
		errs = append(errs, errors.New("max_indicators: must not be negative"))
	}
	return errors.Join(errs...)
}

// Options configure a Detector.
type Options struct {
	Lists         []ListConfig
	DefaultLevel  signal.Level // default high
	MaxFileBytes  int64        // default DefaultMaxFileBytes
	MaxIndicators int          // default DefaultMaxIndicators
	Logger        *slog.Logger // nil discards
}

// decodeConfig reads the generic config map strictly (unknown keys fail).
func decodeConfig(m map[string]any) (Config, error) {
	var c Config
	if len(m) == 0 {
		return c, nil
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		return c, fmt.Errorf("encoding ioc config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("decoding ioc config: %w", err)
	}
	return c, nil
}
