// Package syslog is the "syslog" alert output: one message per alert over
// UDP or TCP, as RFC 5424 with the alert in structured data, or as CEF
// (ArcSight Common Event Format) carried in an RFC 5424 message.
//
// RFC 5424 messages look like
//
//	<PRI>1 2026-11-27T09:31:00.000000Z host rampart 1234 alert [rampart@32473 id="…" rule_id="…"
//	level="high" detector="ioc" layer="rules" score="1" count="2" first_seen="…" last_seen="…"
//	entity="ip=192.0.2.66" entity="host=ws1"] Title: explanation
//
// PRI is facility*8 + severity (critical→2, high→3, medium→4, low→5,
// informational→6). The SD-ID defaults to rampart@32473 (32473 is the
// example enterprise number of RFC 5612); set sd_id to your own. CR and LF in
// text become spaces so that no framing can split a message. Over TCP the
// framing is octet counting (RFC 6587) unless framing is "lf". UDP messages
// are cut to max_message_bytes (default 2048); when the structured data
// alone would not fit, only id, rule_id and level are kept.
//
// TLS transport is not implemented.
package syslog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/output"
)

// Kind is the config kind.
const Kind = "syslog"

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

// facilities maps facility names to codes.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "audit": 13, "console": 14,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Config configures the syslog output.
type Config struct {
	// Name is the instance name (default "syslog").
	Name string `yaml:"-"`
	// Address is the receiver, host:port.
	Address string `yaml:"address"`
	// Network is "udp" (default) or "tcp".
	Network string `yaml:"network"`
	// Format is "rfc5424" (default) or "cef".
	Format string `yaml:"format"`
	// Facility name (default "auth"): kern, user, daemon, auth, authpriv, security, local0…local7, ….
	Facility string `yaml:"facility"`
	// Hostname in the header (default: this machine's name).
	Hostname string `yaml:"hostname"`
	// AppName in the header (default "rampart").
	AppName string `yaml:"app_name"`
	// SDID is the structured-data id (default "rampart@32473").
	SDID string `yaml:"sd_id"`
	// Framing over TCP: "octet-counting" (default) or "lf".
	Framing string `yaml:"framing"`
	// Timeout bounds dialing and each write (default 5s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxMessageBytes cuts longer messages (default 2048 for UDP, 65536 for TCP; at least 480).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// DeviceVendor, DeviceProduct and DeviceVersion fill the CEF header
	// (default "Rampart", "Rampart", "1").
	DeviceVendor  string `yaml:"device_vendor"`
	DeviceProduct string `yaml:"device_product"`
	DeviceVersion string `yaml:"device_version"`
}

// Validate checks the config without I/O.
func (c *Config) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Address); err != nil || port == "" {
		errs = append(errs, errors.New("address: want host:port"))
	}
	switch c.Network {
	case "", "udp", "tcp":
	default:
		errs = append(errs, fmt.Errorf("network: %q is not udp or tcp", c.Network))
	}
	switch c.Format {
	case "", "rfc5424", "cef":
	default:
		errs = append(errs, fmt.Errorf("format: %q is not rfc5424 or cef", c.Format))
	}
	if _, ok := facilities[c.Facility]; c.Facility != "" && !ok {
		errs = append(errs, fmt.Errorf("facility: unknown facility %q", c.Facility))
	}
	switch c.Framing {
	case "", "octet-counting", "lf":
	default:
		errs = append(errs, fmt.Errorf("framing: %q is not octet-counting or lf", c.Framing))
	}
	if c.SDID != "" && !validSDID(c.SDID) {
		errs = append(errs, fmt.Errorf("sd_id: %q is not a valid SD-ID (name@number, printable ASCII without space, =, ], \")", c.SDID))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	if c.MaxMessageBytes != 0 && (c.MaxMessageBytes < 480 || c.MaxMessageBytes > 1<<20) {
		errs = append(errs, errors.New("max_message_bytes: must be between 480 and 1048576"))
	}
	if (c.Network == "" || c.Network == "udp") && c.MaxMessageBytes > 65000 {
		errs = append(errs, errors.New("max_message_bytes: a UDP datagram holds at most 65000 bytes here"))
	}
	return errors.Join(errs...)
}

func validSDID(s string) bool {
	if len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' || c == ' ' {
			return false
		}
	}
	return true
}

// Output sends alerts to a syslog receiver.
type Output struct {
	cfg      Config
	facility int
	hostname string
	appName  string
	procID   string
	now      func() time.Time
	log      *slog.Logger

	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

var _ output.Output = (*Output)(nil)

// New builds the output; it connects on the first Send.
func New(cfg Config, deps output.Deps) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("syslog output: %w", err)
	}
	if cfg.Name == "" {
		cfg.Name = Kind
	}
	if cfg.Network == "" {
		cfg.Network = "udp"
	}
	if cfg.Format == "" {
		cfg.Format = "rfc5424"
	}
	if cfg.Facility == "" {
		cfg.Facility = "auth"
	}
	if cfg.Framing == "" {
		cfg.Framing = "octet-counting"
	}
	if cfg.SDID == "" {
		cfg.SDID = "rampart@32473"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = 2048
		if cfg.Network == "tcp" {
			cfg.MaxMessageBytes = 64 << 10
		}
	}
	if cfg.AppName == "" {
		cfg.AppName = "rampart"
	}
	if cfg.DeviceVendor == "" {
		cfg.DeviceVendor = "Rampart"
	}
	if cfg.DeviceProduct == "" {
		cfg.DeviceProduct = "Rampart"
	}
	if cfg.DeviceVersion == "" {
		cfg.DeviceVersion = "1"
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	deps = deps.WithDefaults()
	return &Output{
		cfg: cfg, facility: facilities[cfg.Facility], now: deps.Now,
		hostname: headerField(cfg.Hostname, 255), appName: headerField(cfg.AppName, 48),
		procID: strconv.Itoa(os.Getpid()),
		log:    deps.Logger.With("component", "output/syslog", "output", cfg.Name, "address", cfg.Address),
	}, nil
}

// Name implements output.Output.
func (o *Output) Name() string { return o.cfg.Name }

// Format renders one alert as it would be sent (without TCP framing).
func (o *Output) Format(a *alert.Alert) string {
	if o.cfg.Format == "cef" {
		return o.formatCEF(a)
	}
	return o.formatRFC5424(a)
}

func (o *Output) frame(msg string) []byte {
	if o.cfg.Network != "tcp" {
		return []byte(msg)
	}
	if o.cfg.Framing == "lf" {
		return []byte(msg + "\n")
	}
	return []byte(strconv.Itoa(len(msg)) + " " + msg)
}

// Send writes one message per alert. On a write error it reconnects and
// retries that message once before giving up.
func (o *Output) Send(ctx context.Context, alerts []alert.Alert) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return output.ErrClosed
	}
	for i := range alerts {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("syslog output: %w", err)
		}
		b := o.frame(o.Format(&alerts[i]))
		err := o.write(ctx, b)
		if err != nil {
			o.log.Warn("syslog write failed, reconnecting", "err", err)
			o.drop()
			err = o.write(ctx, b)
		}
		if err != nil {
			o.drop()
			return fmt.Errorf("syslog output %s: sent %d of %d alerts: %w", o.cfg.Address, i, len(alerts), err)
		}
	}
	return nil
}

// write sends b, dialing first if needed. Called with mu held.
func (o *Output) write(ctx context.Context, b []byte) error {
	if o.conn == nil {
		d := net.Dialer{Timeout: o.cfg.Timeout}
		c, err := d.DialContext(ctx, o.cfg.Network, o.cfg.Address)
		if err != nil {
			return err
		}
		o.conn = c
	}
	deadline := time.Now().Add(o.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := o.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := o.conn.Write(b)
	return err
}

func (o *Output) drop() {
	if o.conn != nil {
		_ = o.conn.Close()
		o.conn = nil
	}
}

// Close closes the connection; later sends return output.ErrClosed.
func (o *Output) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	if o.conn == nil {
		return nil
	}
	err := o.conn.Close()
	o.conn = nil
	if err != nil {
		return fmt.Errorf("closing syslog connection: %w", err)
	}
	return nil
}
