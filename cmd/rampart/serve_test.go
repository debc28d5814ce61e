package main

import (
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/config"
)

// TestReadyMessage: the start message points at the console and the API
// with the scheme the node serves (it said http:// over TLS too).
func TestReadyMessage(t *testing.T) {
	tests := []struct {
		name       string
		set        func(*config.Config)
		want, nope string
	}{
		{"plain", func(*config.Config) {}, "http://127.0.0.1:8080/console/", "https://"},
		{"self-signed", func(c *config.Config) { c.HTTP.TLSSelfSigned = true }, "https://127.0.0.1:8080/console/", "http://"},
		{"certificate", func(c *config.Config) { c.HTTP.TLSCert, c.HTTP.TLSKey = "c.pem", "k.pem" }, "https://127.0.0.1:8080/api/v1/alerts", "http://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			tc.set(&cfg)
			got := readyMessage(cfg, "127.0.0.1:8080")
			if !strings.Contains(got, tc.want) || strings.Contains(got, tc.nope) {
				t.Errorf("got %q, want %s and no %s", got, tc.want, tc.nope)
			}
		})
	}
}
