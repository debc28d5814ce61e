// Package tlsutil builds the server TLS configuration: from a configured
// certificate and key, or, for local use, from a self-signed ECDSA
// certificate made on first start in the data dir (key mode 0600) and reused
// on restart while it is valid and covers the configured host names.
// Only TLS 1.2 and 1.3 with AEAD cipher suites and forward secrecy are offered.
package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Config selects the server certificate.
type Config struct {
	// CertFile and KeyFile are a PEM certificate (chain) and key. Both or
	// neither; when neither is set a self-signed certificate is used.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// DataDir holds the self-signed certificate (DataDir/tls/).
	DataDir string `yaml:"-"`
	// Hosts are extra names or addresses for the self-signed certificate
	// (the configured listen host, the machine's name); localhost,
	// 127.0.0.1 and ::1 are always included.
	Hosts []string `yaml:"hosts"`
	// Now is the clock (default time.Now).
	Now func() time.Time `yaml:"-"`
}

// Info describes the certificate in use, for the startup log.
type Info struct {
	SelfSigned bool
	CertFile   string
	// Fingerprint is the SHA-256 of the leaf certificate (hex), which a
	// user can compare when trusting a self-signed certificate.
	Fingerprint string
	NotAfter    time.Time
	DNSNames    []string
	IPs         []net.IP
}

const (
	selfSignedValidity = 365 * 24 * time.Hour
	renewBefore        = 30 * 24 * time.Hour
	maxPEMBytes        = 1 << 20
)

// ServerConfig returns the TLS configuration for the API and console.
func ServerConfig(cfg Config) (*tls.Config, Info, error) {
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	var (
		cert tls.Certificate
		info Info
		err  error
	)
	switch {
	case cfg.CertFile != "" && cfg.KeyFile != "":
		cert, err = loadConfigured(cfg.CertFile, cfg.KeyFile)
		info.CertFile = cfg.CertFile
	case cfg.CertFile != "" || cfg.KeyFile != "":
		return nil, Info{}, errors.New("tls: cert_file and key_file must be set together")
	default:
		if cfg.DataDir == "" {
			return nil, Info{}, errors.New("tls: no certificate configured and no data dir for a self-signed one")
		}
		hosts, herr := hostList(cfg.Hosts)
		if herr != nil {
			return nil, Info{}, herr
		}
		cert, info.CertFile, err = selfSigned(filepath.Join(cfg.DataDir, "tls"), hosts, now())
		info.SelfSigned = true
	}
	if err != nil {
		return nil, Info{}, err
	}
	leaf := cert.Leaf
	sum := sha256.Sum256(leaf.Raw)
	info.Fingerprint, info.NotAfter, info.DNSNames, info.IPs = hex.EncodeToString(sum[:]), leaf.NotAfter, leaf.DNSNames, leaf.IPAddresses
	if now().After(leaf.NotAfter) {
		return nil, Info{}, fmt.Errorf("tls: certificate %s expired on %s", info.CertFile, leaf.NotAfter.Format(time.DateOnly))
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// TLS 1.2 suites: ECDHE (forward secrecy) with AEAD only. TLS 1.3
		// suites are not configurable and are all modern.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"h2", "http/1.1"},
	}, info, nil
}

// readLimited reads a PEM file of at most maxPEMBytes.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPEMBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxPEMBytes)
	}
	return data, nil
}

func loadConfigured(certFile, keyFile string) (tls.Certificate, error) {
	fi, err := os.Stat(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: reading key: %w", err)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return tls.Certificate{}, fmt.Errorf("tls: key file %s is accessible by others (mode %04o): chmod o-rwx", keyFile, fi.Mode().Perm())
	}
	certPEM, err := readLimited(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: reading certificate: %w", err)
	}
	keyPEM, err := readLimited(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: reading key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: loading %s and %s: %w", certFile, keyFile, err)
	}
	return cert, nil // Go 1.23+ fills cert.Leaf
}

// dnsNameRE is what a certificate DNS SAN may hold (with one leading wildcard label).
var dnsNameRE = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// hostList is the SAN list: the loopback names plus configured hosts,
// deduplicated, lower case, without ports. A host that is neither an
// address nor a valid DNS name is an error.
func hostList(extra []string) ([]string, error) {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if len(extra) > 100 {
		return nil, fmt.Errorf("tls.hosts: %d hosts, at most 100", len(extra))
	}
	for _, h := range extra {
		h = strings.ToLower(strings.TrimSpace(h))
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		h = strings.Trim(h, "[]")
		if h == "" || h == "0.0.0.0" || h == "::" || slices.Contains(hosts, h) {
			continue
		}
		if net.ParseIP(h) == nil && (len(h) > 253 || !dnsNameRE.MatchString(h)) {
			return nil, fmt.Errorf("tls.hosts: %q is not an address or a DNS name", h)
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}

// selfSigned loads the certificate in dir if it is usable at now and covers
// hosts, and otherwise makes (and stores) a new one.
func selfSigned(dir string, hosts []string, now time.Time) (tls.Certificate, string, error) {
	certPath, keyPath := filepath.Join(dir, "selfsigned-cert.pem"), filepath.Join(dir, "selfsigned-key.pem")
	// A missing, broken, loosely permitted, expiring or too narrow pair is
	// replaced, never used.
	if cert, err := loadSelfSigned(certPath, keyPath); err == nil && usable(cert.Leaf, hosts, now) {
		return cert, certPath, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, "", fmt.Errorf("tls: creating %s: %w", dir, err)
	}
	certPEM, keyPEM, err := generate(hosts, now)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	// The key is written first and with 0600 from creation, never wider.
	if err := writeAtomic(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, "", err
	}
	if err := writeAtomic(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, "", err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("tls: loading new self-signed certificate: %w", err)
	}
	return cert, certPath, nil
}

func loadSelfSigned(certPath, keyPath string) (tls.Certificate, error) {
	fi, err := os.Stat(keyPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return tls.Certificate{}, fmt.Errorf("self-signed key %s has mode %04o", keyPath, fi.Mode().Perm())
	}
	certPEM, err := readLimited(certPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readLimited(keyPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

func usable(leaf *x509.Certificate, hosts []string, now time.Time) bool {
	if leaf == nil || now.Before(leaf.NotBefore) || now.Add(renewBefore).After(leaf.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func generate(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("tls: generating serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Rampart"}, CommonName: "Rampart self-signed (" + hosts[len(hosts)-1] + ")"},
		NotBefore:             now.Add(-time.Hour), // tolerate small clock skew between hosts
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: creating certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: encoding key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tls-*")
	if err != nil {
		return fmt.Errorf("tls: writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("tls: writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("tls: writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tls: writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tls: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("tls: writing %s: %w", path, err)
	}
	return nil
}
