package api

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestOpenAPIDocumentsEveryRoute keeps openapi.yaml in step with the routes.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	data, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, rt := range Routes(Deps{}) {
		path := strings.TrimSuffix(rt.Pattern, "{$}") // "/{$}" is the exact path "/"
		ops, ok := doc.Paths[path]
		if !ok || ops[strings.ToLower(rt.Method)] == nil {
			t.Errorf("openapi.yaml lacks %s %s", rt.Method, path)
		}
		seen[path+" "+strings.ToLower(rt.Method)] = true
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if !seen[p+" "+m] {
				t.Errorf("openapi.yaml documents %s %s, which is not a route", m, p)
			}
		}
	}
}
