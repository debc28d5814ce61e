// Package webhook is the "webhook" alert output: each batch of alerts is
// POSTed as a JSON array of output.Record, signed with HMAC-SHA256, with a
// per-attempt timeout and bounded retries with exponential backoff.
//
// Signature: when a secret is configured, every request carries
//
//	X-Rampart-Timestamp: <unix seconds>
//	X-Rampart-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// Receivers recompute the HMAC (see Verify) and should reject stale
// timestamps, which stops replays of captured requests.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/output"
)

// Kind is the config kind.
const Kind = "webhook"

// Header names.
const (
	HeaderSignature = "X-Rampart-Signature"
	HeaderTimestamp = "X-Rampart-Timestamp"
)

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

// Config configures the webhook output.
type Config struct {
	// Name is the instance name (default "webhook").
	Name string `yaml:"-"`
	// URL receives the POSTs (http or https).
	URL string `yaml:"url"`
	// Secret signs each request (HMAC-SHA256). Never logged.
	Secret output.Secret `yaml:"secret"`
	// SecretEnv names an environment variable holding the secret instead.
	SecretEnv string `yaml:"secret_env"`
	// Headers are extra request headers (e.g. an Authorization token).
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts bounds the tries per batch, first one included (default 4).
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the wait before the first retry, doubled for each next one
	// (default 500ms), capped at MaxBackoff (default 30s). A Retry-After
	// header from the receiver is honoured up to MaxBackoff.
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// MaxBatch splits larger batches into several POSTs (default 500).
	MaxBatch int `yaml:"max_batch"`
}

// Validate checks the config without I/O.
func (c *Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, errors.New("url: required"))
	case err != nil:
		errs = append(errs, errors.New("url: not a valid URL"))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		errs = append(errs, errors.New("url: want http(s)://host/…"))
	}
	if c.Secret != "" && c.SecretEnv != "" {
		errs = append(errs, errors.New("secret, secret_env: set only one"))
	}
	for k := range c.Headers {
		if strings.EqualFold(k, HeaderSignature) || strings.EqualFold(k, HeaderTimestamp) || strings.EqualFold(k, "Content-Type") {
			errs = append(errs, fmt.Errorf("headers: %s is set by the output", k))
		}
	}
	if c.Timeout < 0 || c.Backoff < 0 || c.MaxBackoff < 0 {
		errs = append(errs, errors.New("timeout, backoff, max_backoff: must not be negative"))
	}
	if c.MaxAttempts < 0 || c.MaxAttempts > 20 {
		errs = append(errs, errors.New("max_attempts: must be between 1 and 20"))
	}
	if c.MaxBatch < 0 || c.MaxBatch > 100000 {
		errs = append(errs, errors.New("max_batch: must be between 1 and 100000"))
	}
	return errors.Join(errs...)
}

// Output posts alerts to a webhook.
type Output struct {
	cfg    Config
	secret []byte
	target string // URL for logs and errors, credentials redacted
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	closed atomic.Bool
}

var _ output.Output = (*Output)(nil)

// New builds the output; it does not contact the receiver.
func New(cfg Config, deps output.Deps) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("webhook output: %w", err)
	}
	if cfg.Name == "" {
		cfg.Name = Kind
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 500
	}
	secret := cfg.Secret.Reveal()
	if cfg.SecretEnv != "" {
		if secret = os.Getenv(cfg.SecretEnv); secret == "" {
			return nil, fmt.Errorf("webhook output: secret_env: variable %s is empty or unset", cfg.SecretEnv)
		}
	}
	deps = deps.WithDefaults()
	u, _ := url.Parse(cfg.URL)
	target := u.Redacted()
	if u.RawQuery != "" {
		target = strings.SplitN(target, "?", 2)[0] + "?REDACTED" // query strings often carry tokens
	}
	o := &Output{
		cfg: cfg, secret: []byte(secret), target: target, now: deps.Now,
		log: deps.Logger.With("component", "output/webhook", "output", cfg.Name, "url", target),
		client: &http.Client{
			// A redirect would turn the POST into a GET; treat it as a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if len(o.secret) == 0 {
		o.log.Warn("webhook requests are not signed: no secret configured")
	}
	return o, nil
}

// Name implements output.Output.
func (o *Output) Name() string { return o.cfg.Name }

// Sign computes the signature header value for a timestamp and body.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header value in constant time.
func Verify(secret []byte, timestamp string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

// Send posts the alerts in batches of at most MaxBatch.
func (o *Output) Send(ctx context.Context, alerts []alert.Alert) error {
	if o.closed.Load() {
		return output.ErrClosed
	}
	for len(alerts) > 0 {
		n := min(len(alerts), o.cfg.MaxBatch)
		if err := o.post(ctx, alerts[:n]); err != nil {
			return err
		}
		alerts = alerts[n:]
	}
	return nil
}

// permanentError marks a failure that retrying will not fix.
type permanentError struct{ error }

func (o *Output) post(ctx context.Context, alerts []alert.Alert) error {
	var body bytes.Buffer
	body.WriteByte('[')
	for i := range alerts {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(output.EncodeJSON(&alerts[i]))
	}
	body.WriteByte(']')
	wait := o.cfg.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		var retryAfter time.Duration
		retryAfter, err = o.attempt(ctx, body.Bytes())
		if err == nil {
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) || attempt >= o.cfg.MaxAttempts || ctx.Err() != nil {
			break
		}
		d := min(max(wait, retryAfter), o.cfg.MaxBackoff)
		o.log.Warn("webhook delivery failed, retrying", "attempt", attempt, "wait", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("webhook %s: %w (last error: %v)", o.target, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(wait*2, o.cfg.MaxBackoff)
	}
	return fmt.Errorf("webhook %s: delivering %d alerts: %w", o.target, len(alerts), err)
}

// attempt makes one POST. It returns the receiver's Retry-After, if any.
func (o *Output) attempt(ctx context.Context, body []byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, permanentError{fmt.Errorf("building request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rampart-webhook/1")
	for k, v := range o.cfg.Headers {
		req.Header.Set(k, v)
	}
	if len(o.secret) > 0 {
		ts := strconv.FormatInt(o.now().Unix(), 10)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, Sign(o.secret, ts, body))
	}
	resp, err := o.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the full URL
		}
		return 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // drain for connection reuse
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	err = fmt.Errorf("status %d: %q", resp.StatusCode, strings.ToValidUTF8(string(snippet), "?"))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return parseRetryAfter(resp.Header.Get("Retry-After")), err
	case resp.StatusCode == http.StatusRequestTimeout:
		return 0, err
	default:
		return 0, permanentError{err}
	}
}

// parseRetryAfter reads a delay in seconds (HTTP dates are ignored).
func parseRetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(min(n, 3600)) * time.Second
}

// Close stops further sends; in-flight sends finish.
func (o *Output) Close() error {
	o.closed.Store(true)
	o.client.CloseIdleConnections()
	return nil
}
