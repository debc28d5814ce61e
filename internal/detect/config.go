package detect

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Helpers for detector factories reading Options.Config. Values arrive
// decoded from YAML (or built in Go), so the numeric types either gives are
// accepted. Errors name the key.

// ConfigString reads a non-empty string.
func ConfigString(k string, v any) (string, error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("config %s: want a non-empty string, got %v", k, v)
	}
	return s, nil
}

// ConfigInt reads a positive integer.
func ConfigInt(k string, v any) (int, error) {
	switch x := v.(type) {
	case int:
		if x > 0 {
			return x, nil
		}
	case int64:
		if x > 0 && x < 1<<31 {
			return int(x), nil
		}
	case float64:
		if x == math.Trunc(x) && x > 0 && x < 1<<31 {
			return int(x), nil
		}
	}
	return 0, fmt.Errorf("config %s: want a positive integer, got %v", k, v)
}

// ConfigFloat reads a positive, finite number.
func ConfigFloat(k string, v any) (float64, error) {
	switch x := v.(type) {
	case int:
		if x > 0 {
			return float64(x), nil
		}
	case int64:
		if x > 0 {
			return float64(x), nil
		}
	case float64:
		if x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) {
			return x, nil
		}
	}
	return 0, fmt.Errorf("config %s: want a positive number, got %v", k, v)
}

// ConfigDuration reads a positive Go duration string ("10m").
func ConfigDuration(k string, v any) (time.Duration, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("config %s: want a duration string like \"10m\", got %T", k, v)
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("config %s: invalid duration %q", k, s)
	}
	return d, nil
}

// ConfigList reads a non-empty list of strings, or one comma-separated
// string; when allowed is non-empty every item must be one of it.
func ConfigList(k string, v any, allowed ...string) ([]string, error) {
	var items []string
	switch x := v.(type) {
	case string:
		items = strings.Split(x, ",")
	case []string:
		items = x
	case []any:
		for _, it := range x {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("config %s: want strings, got %T", k, it)
			}
			items = append(items, s)
		}
	default:
		return nil, fmt.Errorf("config %s: want a list of strings, got %T", k, v)
	}
	var out []string
	for _, it := range items {
		if it = strings.TrimSpace(it); it == "" {
			continue
		}
		if len(allowed) > 0 && !slices.Contains(allowed, it) {
			return nil, fmt.Errorf("config %s: unknown item %q (want %s)", k, it, strings.Join(allowed, ", "))
		}
		out = append(out, it)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("config %s: empty list", k)
	}
	return out, nil
}
