package tlsutil

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serve starts an httptest server with cfg and returns its address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.Proto)
	}))
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected here
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// get makes a real TLS request to addr, naming the server serverName and
// trusting only roots.
func get(addr, serverName string, roots *x509.CertPool, mod func(*tls.Config)) (string, error) {
	tc := &tls.Config{RootCAs: roots, ServerName: serverName}
	if mod != nil {
		mod(tc)
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get("https://" + net.JoinHostPort(serverName, "443") + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func rootsFrom(t *testing.T, certFile string) *x509.CertPool {
	t.Helper()
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in", certFile)
	}
	return pool
}

func TestSelfSigned(t *testing.T) {
	dir := t.TempDir()
	// Real time: the real client below verifies validity against it.
	start := time.Now()
	now := start
	clock := func() time.Time { return now }
	cfg, info, err := ServerConfig(Config{DataDir: dir, Hosts: []string{"rampart.example:8443"}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if !info.SelfSigned || len(info.Fingerprint) != 64 {
		t.Errorf("info %+v", info)
	}
	keyPath := filepath.Join(dir, "tls", "selfsigned-key.pem")
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v mode %v, want 0600", err, fi.Mode().Perm())
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x", cfg.MinVersion)
	}
	roots := rootsFrom(t, info.CertFile)
	addr := serve(t, cfg)
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "rampart.example"} {
		t.Run("client "+name, func(t *testing.T) {
			body, err := get(addr, name, roots, nil)
			if err != nil || !strings.HasPrefix(body, "ok HTTP/2") {
				t.Errorf("GET via %s = %q, %v; want ok over HTTP/2", name, body, err)
			}
		})
	}
	tests := []struct {
		name    string
		server  string
		roots   *x509.CertPool
		mod     func(*tls.Config)
		wantErr string
	}{
		{name: "tls 1.1 refused", server: "localhost", roots: roots, mod: func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }, wantErr: "protocol version"},
		{name: "cbc suite refused", server: "localhost", roots: roots, mod: func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
		}, wantErr: "handshake failure"},
		{name: "tls 1.2 aead ok", server: "localhost", roots: roots, mod: func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }},
		{name: "name not in certificate", server: "other.example", roots: roots, wantErr: "certificate is valid for"},
		{name: "untrusted without root", server: "localhost", roots: x509.NewCertPool(), wantErr: "unknown authority"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := get(addr, tc.server, tc.roots, tc.mod)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("got %v, want %q", err, tc.wantErr)
			}
		})
	}

	// Restart: the same certificate is reused.
	_, info2, err := ServerConfig(Config{DataDir: dir, Hosts: []string{"rampart.example"}, Now: clock})
	if err != nil || info2.Fingerprint != info.Fingerprint {
		t.Errorf("restart made a new certificate (%v): %s vs %s", err, info2.Fingerprint, info.Fingerprint)
	}
	// A new configured host, near expiry, or a widened key mode: replaced.
	now = start
	_, a, _ := ServerConfig(Config{DataDir: dir, Hosts: []string{"new.example"}, Now: clock})
	_, b, _ := ServerConfig(Config{DataDir: dir, Hosts: []string{"new.example"}, Now: clock})
	if a.Fingerprint != b.Fingerprint {
		t.Error("second start with the same hosts regenerated")
	}
	_, c, _ := ServerConfig(Config{DataDir: dir, Hosts: []string{"new.example", "10.0.0.5"}, Now: clock})
	if c.Fingerprint == b.Fingerprint || len(c.IPs) != 3 {
		t.Errorf("new host did not regenerate: ips %v", c.IPs)
	}
	now = start.Add(350 * 24 * time.Hour)
	_, d, _ := ServerConfig(Config{DataDir: dir, Hosts: []string{"new.example", "10.0.0.5"}, Now: clock})
	if d.Fingerprint == c.Fingerprint {
		t.Error("certificate within 30 days of expiry was reused")
	}
	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	_, e, _ := ServerConfig(Config{DataDir: dir, Hosts: []string{"new.example", "10.0.0.5"}, Now: clock})
	if e.Fingerprint == d.Fingerprint {
		t.Error("key with mode 0644 was reused")
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("replacement key mode %04o", fi.Mode().Perm())
	}
}

func TestConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, err := generate([]string{"localhost", "127.0.0.1", "::1", "api.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, certPEM, 0o644)
	os.WriteFile(keyFile, keyPEM, 0o640)
	cfg, info, err := ServerConfig(Config{CertFile: certFile, KeyFile: keyFile, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if info.SelfSigned || info.CertFile != certFile {
		t.Errorf("info %+v", info)
	}
	if _, err := os.Stat(filepath.Join(dir, "tls")); err == nil {
		t.Error("self-signed certificate made although one is configured")
	}
	addr := serve(t, cfg)
	if body, err := get(addr, "api.example", rootsFrom(t, certFile), nil); err != nil || !strings.HasPrefix(body, "ok") {
		t.Errorf("GET = %q, %v", body, err)
	}

	otherCert, otherKey, _ := generate([]string{"localhost"}, time.Now())
	oc, ok := filepath.Join(dir, "oc.pem"), filepath.Join(dir, "ok.pem")
	os.WriteFile(oc, otherCert, 0o644)
	os.WriteFile(ok, otherKey, 0o600)
	big := filepath.Join(dir, "big.pem")
	os.WriteFile(big, bytes.Repeat([]byte("A"), maxPEMBytes+10), 0o600)
	world := filepath.Join(dir, "world.pem")
	os.WriteFile(world, keyPEM, 0o600)
	os.Chmod(world, 0o644)
	expiredCert, expiredKey, _ := generate([]string{"localhost"}, time.Now().Add(-2*selfSignedValidity))
	ec, ek := filepath.Join(dir, "ec.pem"), filepath.Join(dir, "ek.pem")
	os.WriteFile(ec, expiredCert, 0o644)
	os.WriteFile(ek, expiredKey, 0o600)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "cert without key", cfg: Config{CertFile: certFile}, wantErr: "set together"},
		{name: "key without cert", cfg: Config{KeyFile: keyFile}, wantErr: "set together"},
		{name: "missing file", cfg: Config{CertFile: filepath.Join(dir, "nope"), KeyFile: keyFile}, wantErr: "no such file"},
		{name: "mismatched pair", cfg: Config{CertFile: certFile, KeyFile: ok}, wantErr: "private key does not match"},
		{name: "oversized", cfg: Config{CertFile: big, KeyFile: keyFile}, wantErr: "larger than"},
		{name: "world readable key", cfg: Config{CertFile: certFile, KeyFile: world}, wantErr: "accessible by others"},
		{name: "expired", cfg: Config{CertFile: ec, KeyFile: ek}, wantErr: "expired"},
		{name: "nothing at all", cfg: Config{}, wantErr: "no data dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ServerConfig(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ServerConfig = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestHostList(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		wantErr string
	}{
		{in: []string{" Rampart.Example:8443 ", "[::1]:8080", "0.0.0.0", "10.0.0.5", "rampart.example", "*.corp.example"},
			want: "localhost 127.0.0.1 ::1 rampart.example 10.0.0.5 *.corp.example"},
		{in: []string{"bad host"}, wantErr: "not an address or a DNS name"},
		{in: []string{"h\xc3\xb6st.example"}, wantErr: "not an address or a DNS name"},
		{in: []string{"-lead.example"}, wantErr: "not an address or a DNS name"},
		{in: make([]string, 101), wantErr: "at most 100"},
	}
	for _, tc := range tests {
		got, err := hostList(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("hostList(%q) error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("hostList(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzHostList: any configured host list either fails with an error or
// yields names a certificate can be made for.
func FuzzHostList(f *testing.F) {
	f.Add("rampart.example:8443")
	f.Add("[fe80::1%eth0]:1")
	f.Add("*.*.example")
	f.Add("h\xc3\xb6st")
	f.Fuzz(func(t *testing.T, h string) {
		if len(h) > 1024 {
			t.Skip("input limit")
		}
		hosts, err := hostList([]string{h})
		if err != nil {
			return
		}
		if _, _, err := generate(hosts, time.Now()); err != nil {
			t.Fatalf("host %q accepted but no certificate can be made: %v", h, err)
		}
	})
}
