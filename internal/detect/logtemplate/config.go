package logtemplate

import (
	"fmt"
	"math"
	"strings"
)

// Config values arrive decoded from YAML (or built in Go): accept the
// numeric types either gives.

func cfgString(k string, v any) (string, error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("config %s: want a non-empty string, got %v", k, v)
	}
	return s, nil
}

func cfgInt(k string, v any) (int, error) {
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

func cfgFloat(k string, v any) (float64, error) {
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

// cfgList accepts a list of strings or one comma-separated string.
func cfgList(k string, v any) ([]string, error) {
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
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("config %s: empty list", k)
	}
	return out, nil
}
