// Package syslog reads generic syslog: RFC 5424 and RFC 3164 lines with a
// PRI, and the header-less lines of /var/log/*.log files ("Mmm dd hh:mm:ss
// host prog[pid]: msg", or with an RFC 3339 timestamp). RFC 3164 has no
// year and no zone: format.Options (Year, Now, Location) resolve them.
//
// Lines from authentication programs (sshd, sudo, su, login, pam, …) belong
// to the auth format, which builds on ParseHeader; this format's Sniff scores
// them low so that auto-detection picks auth.
package syslog

import (
	"bytes"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
)

// Name is the format name.
const Name = "syslog"

func init() { format.Register(Format{}) }

// Format is the generic syslog format.
type Format struct{}

// Name returns "syslog".
func (Format) Name() string { return Name }

// Sniff scores syslog lines: 70 for a full header, 55 for a PRI with a
// free-form message, and 30 for auth program lines (left to auth).
func (Format) Sniff(rec []byte) int {
	var h Header
	if !ParseHeader(rec, format.Options{}, &h, false) {
		return 0
	}
	switch {
	case IsAuth(&h):
		return 30
	case len(h.AppName) > 0 || h.Kind == "rfc5424":
		return 70
	case len(h.Hostname) > 0:
		return 60
	}
	return 55
}

// NewParser returns a syslog parser (stateless apart from options).
func (Format) NewParser(opts format.Options) format.Parser { return &Parser{opts: opts} }

// Parser parses generic syslog lines.
type Parser struct {
	opts format.Options
	h    Header
}

var _ format.Parser = (*Parser)(nil)

// Parse fills ev from one syslog line. Invalid UTF-8 is replaced with U+FFFD
// in the fields.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	rec = fieldkit.ValidText(rec)
	if len(bytes.TrimSpace(rec)) == 0 {
		return format.ErrNoEvent
	}
	if !ParseHeader(rec, p.opts, &p.h, true) {
		return format.Reject("invalid_syslog", "line has no syslog PRI or timestamp header")
	}
	p.h.Apply(ev)
	ev.Set("event.module", "system")
	ev.Set("event.dataset", "system.syslog")
	ev.Format = Name
	return nil
}

// authPrograms are the programs whose lines the auth format reads.
var authPrograms = map[string]bool{
	"sshd": true, "sudo": true, "su": true, "login": true, "systemd-logind": true, "passwd": true,
	"chpasswd": true, "useradd": true, "userdel": true, "usermod": true, "groupadd": true, "groupdel": true,
	"gpasswd": true, "chage": true, "pkexec": true, "polkitd": true, "klogind": true, "gdm": true,
	"gdm-password": true, "lightdm": true, "unix_chkpwd": true, "sshd-session": true, "doas": true,
}

// IsAuth reports whether a parsed line belongs to the auth format: an
// authentication program, or a PAM module line of any program.
func IsAuth(h *Header) bool {
	if authPrograms[string(Program(h.AppName))] {
		return true
	}
	return len(h.AppName) > 0 && bytes.HasPrefix(h.Msg, []byte("pam_"))
}
