// Package auth reads Linux authentication syslog (auth.log, secure): sshd,
// sudo, su, login, systemd-logind and PAM lines. It builds on the syslog
// header parse and adds the outcome, action, user, source address and port,
// ssh method and sudo details of docs/fields.md.
//
// sshd writes some lines without an address ("Disconnecting: Too many
// authentication failures [preauth]", "PAM service(sshd) ignoring max
// retries", "fatal: Read from socket failed"). As fail2ban's multi-line
// filter does, the parser remembers the address each sshd process (host and
// pid) last logged, in a bounded per-stream table, and attributes such lines
// to it.
package auth

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
	"github.com/rampart-ids/rampart/internal/format/syslog"
)

// Name is the format name.
const Name = "auth"

// MaxPids bounds the sshd pid → connection table of one stream.
const MaxPids = 4096

func init() { format.Register(Format{}) }

// Format is the Linux auth syslog format.
type Format struct{}

// Name returns "auth".
func (Format) Name() string { return Name }

// Sniff scores 90 for syslog lines of authentication programs, else 0.
func (Format) Sniff(rec []byte) int {
	var h syslog.Header
	if !syslog.ParseHeader(rec, format.Options{}, &h, false) || !syslog.IsAuth(&h) {
		return 0
	}
	return 90
}

// NewParser returns a parser with an empty sshd pid table.
func (Format) NewParser(opts format.Options) format.Parser {
	return &Parser{opts: opts, conns: make(map[string]*conn)}
}

// conn is what an sshd process logged last: its address, port and user,
// and the address fields boxed once, so that the lines of one connection
// share them instead of allocating them again (ipv the source.ip string,
// relv the related.ip list, portv the source.port number or nil).
type conn struct {
	ip, port, user   string
	ipv, relv, portv any
}

// newConn boxes the address fields of ip and port, as setIP and
// fieldkit.SetPort store them.
func newConn(ip, port string) conn {
	c := conn{ip: ip, ipv: ip, relv: []string{ip}}
	c.setPort(port)
	return c
}

// setPort sets c's port and its boxed source.port (nil when not a port).
func (c *conn) setPort(port string) {
	c.port, c.portv = port, nil
	if n, ok := fieldkit.ParsePort(port); ok {
		c.portv = n
	}
}

// setAddr stores c's address as setIP and fieldkit.SetPort do. The shared
// related.ip list has no spare capacity, so a later AddRelated copies it.
func setAddr(ev *event.Event, c *conn) {
	ev.Set("source.ip", c.ipv)
	if _, has := ev.Fields["related.ip"]; has {
		fieldkit.AddRelated(ev, "related.ip", c.ip)
	} else {
		ev.Fields["related.ip"] = c.relv
	}
	if c.portv != nil {
		ev.Set("source.port", c.portv)
	}
}

// Parser parses auth lines of one stream. Not safe for concurrent use.
type Parser struct {
	opts  format.Options
	h     syslog.Header
	conns map[string]*conn // host + "/" + pid → last address seen; updated in place
	order []string         // ring of conns keys in insertion order, for eviction
	head  int              // oldest entry of order once it is full
	key   []byte           // scratch for building conns keys without allocating
	rel   map[string]any   // boxed related.user lists (see users)
}

var _ format.Parser = (*Parser)(nil)

// Parse fills ev from one auth line.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	rec = fieldkit.ValidText(rec)
	if len(bytes.TrimSpace(rec)) == 0 {
		return format.ErrNoEvent
	}
	if !syslog.ParseHeader(rec, p.opts, &p.h, true) {
		return format.Reject("invalid_syslog", "line has no syslog PRI or timestamp header")
	}
	if !syslog.IsAuth(&p.h) {
		return format.Reject("not_auth", "program %q is not an authentication program", p.h.AppName)
	}
	p.body(ev)
	return nil
}

var _ format.ClaimParser = (*Parser)(nil)

// ParseClaimed is Parse for Auto's locked path: Sniff's claim (a syslog
// header of an authentication program) is decided by the same header parse
// that Parse keeps, so a line's header is parsed once, not twice.
func (p *Parser) ParseClaimed(rec []byte, ev *event.Event) (bool, error) {
	// Sniff's test on the raw line: the options only change the time
	// computed, never whether the header parses.
	if !syslog.ParseHeader(rec, p.opts, &p.h, true) || !syslog.IsAuth(&p.h) {
		return false, nil
	}
	if !utf8.Valid(rec) { // Parse reads the repaired text; start over
		return true, p.Parse(rec, ev)
	}
	p.body(ev)
	return true, nil
}

// body fills ev from the line whose header p.h holds.
func (p *Parser) body(ev *event.Event) {
	p.h.Apply(ev)
	ev.Set("event.module", "system")
	ev.Set("event.dataset", "system.auth")
	ev.Set("event.category", "authentication")
	msg := p.h.Message() // the string Apply stored as "message"; no second copy
	// syslogd's "message repeated N times: [ msg]" stands for N identical lines.
	if rest, ok := strings.CutPrefix(msg, "message repeated "); ok {
		if n, inner, ok := strings.Cut(rest, " times: [ "); ok && strings.HasSuffix(inner, "]") {
			if c, err := strconv.ParseInt(n, 10, 64); err == nil {
				ev.Set("event.count", c)
				msg = strings.TrimSuffix(inner, "]")
			}
		}
	}
	prog := string(syslog.Program(p.h.AppName))
	switch {
	case prog == "sshd" || prog == "sshd-session":
		p.sshd(msg, ev)
	case prog == "sudo":
		sudo(msg, ev)
	case prog == "su":
		su(msg, ev)
	case prog == "systemd-logind":
		logind(msg, ev)
	default:
		other(msg, ev)
	}
	if strings.HasPrefix(msg, "pam_") || strings.HasPrefix(msg, "PAM ") || strings.Contains(msg, "(pam_unix)") || pamApp(p.h.AppName, prog) {
		p.pam(msg, ev)
	}
	if u, ok := ev.Fields["user.name"].(string); ok {
		if _, has := ev.Fields["related.user"]; has || u == "-" {
			fieldkit.AddRelated(ev, "related.user", u)
		} else {
			ev.Fields["related.user"] = p.users(u)
		}
	}
	ev.Format = Name
}

// maxUsers bounds the per-stream cache of boxed related.user lists.
const maxUsers = 512

// users returns related.user for a first user u, []string{u}, boxed once
// per distinct name: the same few names recur on most lines. The list has
// no spare capacity, so a later AddRelated copies it.
func (p *Parser) users(u string) any {
	if v, ok := p.rel[u]; ok {
		return v
	}
	if p.rel == nil || len(p.rel) >= maxUsers {
		p.rel = make(map[string]any, 64)
	}
	v := any([]string{u})
	p.rel[u] = v
	return v
}

// sshd handles the OpenSSH server's messages.
func (p *Parser) sshd(msg string, ev *event.Event) {
	method := ""
	switch {
	case strings.HasPrefix(msg, "Accepted "):
		method = word(msg, "Accepted ")
		set(ev, "ssh_login", "success")
		ev.Set("user.name", userAfter(msg, " for "))
	case strings.HasPrefix(msg, "Failed ") && strings.Contains(msg, " for "):
		method = word(msg, "Failed ")
		set(ev, "ssh_login", "failure")
		if u := userAfter(msg, " for invalid user "); u != "" {
			ev.Set("user.name", u)
			ev.Set("ssh.invalid_user", true)
		} else {
			ev.Set("user.name", userAfter(msg, " for "))
		}
	case strings.HasPrefix(msg, "Invalid user ") || strings.HasPrefix(msg, "input_userauth_request: invalid user ") || strings.HasPrefix(msg, "Illegal user "):
		set(ev, "ssh_invalid_user", "failure")
		u := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(msg, "input_userauth_request: "), "Invalid user "), "invalid user ")
		u = strings.TrimPrefix(u, "Illegal user ")
		if i := strings.Index(u, " from "); i >= 0 {
			u = u[:i]
		} else if i := strings.Index(u, " ["); i >= 0 {
			u = u[:i]
		}
		ev.Set("user.name", u)
	case strings.HasPrefix(msg, "Disconnecting: Too many authentication failures") ||
		strings.Contains(msg, "maximum authentication attempts exceeded") ||
		strings.HasPrefix(msg, "PAM service(sshd) ignoring max retries"):
		set(ev, "ssh_preauth_max_auth", "failure")
		if u := userAfter(msg, " for invalid user "); u != "" {
			ev.Set("user.name", u)
		} else if u := userAfter(msg, "failures for "); u != "" {
			ev.Set("user.name", u)
		} else {
			ev.Set("user.name", userAfter(msg, "exceeded for "))
		}
	case strings.HasPrefix(msg, "Received disconnect from ") || strings.HasPrefix(msg, "Disconnected from ") ||
		strings.HasPrefix(msg, "Disconnecting") || strings.HasPrefix(msg, "Connection closed by ") ||
		strings.HasPrefix(msg, "Connection reset by "):
		set(ev, "ssh_disconnect", "")
		if u := userAfter(msg, "invalid user "); u != "" {
			ev.Set("user.name", u)
		} else if u := userAfter(msg, " user "); u != "" {
			ev.Set("user.name", u)
		}
	case strings.HasPrefix(msg, "reverse mapping checking") || strings.Contains(msg, "POSSIBLE BREAK-IN ATTEMPT"):
		set(ev, "ssh_reverse_mapping_failed", "")
	case strings.HasPrefix(msg, "Did not receive identification string") || strings.HasPrefix(msg, "Bad protocol version"):
		set(ev, "ssh_bad_protocol", "failure")
	case strings.HasPrefix(msg, "Connection from "):
		set(ev, "ssh_connection", "")
	case strings.HasPrefix(msg, "Server listening on ") || strings.HasPrefix(msg, "Received signal"):
		ev.Set("event.action", "ssh_server")
		return // addresses here are the server's own
	case strings.Contains(msg, "No more user authentication methods") || strings.Contains(msg, "Too many authentication failures") ||
		strings.Contains(msg, "Auth fail"):
		// Disconnect code 14 (or 2 with this reason): the client ran out of attempts.
		set(ev, "ssh_auth_exhausted", "failure")
	case strings.Contains(msg, "Connection reset by peer") || strings.Contains(msg, "Connection closed by"):
		set(ev, "ssh_disconnect", "")
	case strings.HasPrefix(msg, "error: ") || strings.HasPrefix(msg, "fatal: "):
		set(ev, "ssh_error", "")
	}
	if m, ok := sshMethods[method]; ok {
		ev.Set("ssh.method", m)
	}
	p.address(msg, ev)
}

// sshMethods maps the methods sshd logs to ssh.method, boxed once.
var sshMethods = map[string]any{
	"password": "password", "publickey": "publickey", "keyboard-interactive/pam": "keyboard-interactive",
	"keyboard-interactive": "keyboard-interactive", "none": "none", "hostbased": "hostbased", "gssapi-with-mic": "gssapi-with-mic",
}

// address finds the source address of an sshd line, or takes the one its
// process logged before.
func (p *Parser) address(msg string, ev *event.Event) {
	var old *conn
	if len(p.h.ProcID) > 0 {
		// The key is built in a scratch buffer: map lookups with string(bytes)
		// do not allocate, only a new entry does.
		p.key = append(append(append(p.key[:0], p.h.Hostname...), '/'), p.h.ProcID...)
		old = p.conns[string(p.key)]
	}
	known := ""
	if old != nil {
		known = old.ip
	}
	ip, port := findAddrKnown(msg, known)
	if ip != "" {
		var c conn
		if old != nil && old.ip == ip {
			// A connection's lines give its port on some lines only.
			c = *old
			if c.port != port {
				c.setPort(port)
			}
		} else {
			c = newConn(ip, port)
		}
		setAddr(ev, &c)
		if len(p.h.ProcID) > 0 {
			c.user, _ = ev.Fields["user.name"].(string)
			p.remember(p.key, old, c)
		}
		return
	}
	if old != nil {
		c := *old
		setAddr(ev, &c)
		if _, has := ev.Fields["user.name"]; !has && c.user != "" {
			ev.Set("user.name", c.user)
		}
		ev.Set("source.attributed", true) // address taken from the pid's earlier line
	}
}

// remember records c for key kb, whose entry is old (nil when none).
func (p *Parser) remember(kb []byte, old *conn, c conn) {
	if old != nil {
		if c.user == "" {
			c.user = old.user
		}
		*old = c
		return
	}
	key := string(kb)
	if len(p.order) < MaxPids {
		p.order = append(p.order, key)
	} else {
		// Full: evict the oldest key and reuse its ring slot (FIFO).
		delete(p.conns, p.order[p.head])
		p.order[p.head] = key
		p.head = (p.head + 1) % MaxPids
	}
	n := new(conn) // here only: c itself stays on the stack
	*n = c
	p.conns[key] = n
}

// findAddr returns the first IP address token of msg, canonical as
// fieldkit.SetIP stores it, and the port after it ("from 1.2.3.4 port 22",
// "[1.2.3.4]", "rhost=1.2.3.4"). Words are those of strings.Fields.
func findAddr(msg string) (ip, port string) { return findAddrKnown(msg, "") }

// findAddrKnown is findAddr for a line whose process last logged the
// address known (canonical, or ""): a word equal to it needs no parse.
//
// Only a word holding a '.' or a ':' can be an address, so it jumps from
// one such byte to the next (IndexByte) instead of walking every word, and
// finds the word's bounds by ASCII white space; a non-ASCII byte on the way
// (it might belong to a Unicode space) sends the line to the word walk.
func findAddrKnown(msg, known string) (ip, port string) {
	for rest := msg; ; {
		i := indexDotColon(rest)
		if i < 0 {
			return "", ""
		}
		s, e := i, i+1
		for ; s > 0 && !isASCIISpace(rest[s-1]); s-- {
			if rest[s-1] >= utf8.RuneSelf {
				return findAddrWords(msg)
			}
		}
		for ; e < len(rest) && !isASCIISpace(rest[e]); e++ {
			if rest[e] >= utf8.RuneSelf {
				return findAddrWords(msg)
			}
		}
		f := rest[s:e]
		rest = rest[e:]
		if ip, ok := addrWord(f, known); ok {
			return ip, portAfter(rest)
		}
	}
}

// indexDotColon is the index of the first '.' or ':' in s, or -1.
func indexDotColon(s string) int {
	i := strings.IndexByte(s, '.')
	if i < 0 {
		i = len(s)
	}
	if j := strings.IndexByte(s[:i], ':'); j >= 0 {
		return j
	}
	if i == len(s) {
		return -1
	}
	return i
}

// findAddrWords is findAddr walking the words in place (the words of
// strings.Fields), for lines with non-ASCII bytes.
func findAddrWords(msg string) (ip, port string) {
	for rest := msg; ; {
		var f string
		if f, rest = nextField(rest); f == "" {
			return "", ""
		}
		if ip, ok := addrWord(f, ""); ok {
			return ip, portAfter(rest)
		}
	}
}

// addrWord returns the address a word holds ("rhost=" and punctuation
// trimmed), canonical as fieldkit.SetIP stores it.
func addrWord(f, known string) (string, bool) {
	f = strings.TrimPrefix(f, "rhost=")
	f = trimPunct(f)
	if strings.IndexByte(f, '.') < 0 && strings.Count(f, ":") < 2 {
		return "", false
	}
	if f == known && known != "" {
		// known is the canonical form of a parsed address: f parses to
		// it, and its canonical form is itself.
		return f, true
	}
	a, err := netip.ParseAddr(f)
	if err != nil {
		return "", false
	}
	if !a.Is4() {
		// ParseAddr takes only canonical dotted quads, so an IPv4 word is
		// already in fieldkit.SetIP's form; others are rewritten to it.
		f = a.Unmap().String()
	}
	return f, true
}

// portAfter returns the port of "… ADDR port N" given what follows ADDR.
func portAfter(rest string) (port string) {
	if w1, r1 := nextField(rest); w1 == "port" {
		if w2, _ := nextField(r1); w2 != "" {
			port = strings.TrimRight(w2, ":.,")
			if j := strings.IndexByte(port, ':'); j >= 0 {
				port = port[:j]
			}
		}
	}
	return port
}

// nextField returns the first word of s and what follows it, splitting on
// white space exactly as strings.Fields does; field is "" when none is left.
func nextField(s string) (field, rest string) {
	i := 0
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if !isASCIISpace(c) {
				break
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += w
	}
	s = s[i:]
	j := 0
	for j < len(s) {
		if c := s[j]; c < utf8.RuneSelf {
			if isASCIISpace(c) {
				break
			}
			j++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[j:])
		if unicode.IsSpace(r) {
			break
		}
		j += w
	}
	return s[:j], s[j:]
}

// trimPunct is strings.Trim(f, "[](),;:'\"") without building the cutset
// on every call; the set is ASCII, so trimming bytes trims the same runes.
func trimPunct(f string) string {
	for len(f) > 0 && isPunct(f[0]) {
		f = f[1:]
	}
	for len(f) > 0 && isPunct(f[len(f)-1]) {
		f = f[:len(f)-1]
	}
	return f
}

func isPunct(c byte) bool {
	switch c {
	case '[', ']', '(', ')', ',', ';', ':', '\'', '"':
		return true
	}
	return false
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// sudo handles "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls"
// and its failure variants ("3 incorrect password attempts ;", "user NOT in sudoers ;").
func sudo(msg string, ev *event.Event) {
	user, rest, ok := strings.Cut(msg, " : ")
	if !ok || strings.HasPrefix(msg, "pam_") {
		return
	}
	ev.Set("user.name", strings.TrimSpace(user))
	outcome := "success"
	parts := strings.Split(rest, " ; ")
	for _, part := range parts {
		k, v, found := strings.Cut(part, "=")
		if !found {
			if strings.Contains(part, "incorrect password") || strings.Contains(part, "NOT in sudoers") ||
				strings.Contains(part, "not allowed") || strings.Contains(part, "authentication failure") {
				outcome = "failure"
				ev.Set("sudo.error", strings.TrimSpace(part))
			}
			continue
		}
		switch strings.TrimSpace(k) {
		case "TTY":
			ev.Set("sudo.tty", v)
		case "PWD":
			ev.Set("sudo.pwd", v)
		case "USER":
			ev.Set("user.effective.name", v)
			fieldkit.AddRelated(ev, "related.user", v)
		case "COMMAND":
			// COMMAND is last and may itself contain " ; ".
			idx := strings.Index(rest, "COMMAND=")
			ev.Set("process.command_line", rest[idx+len("COMMAND="):])
			set(ev, "sudo_command", outcome)
			return
		}
	}
	set(ev, "sudo_command", outcome)
}

// su handles "Successful su for root by alice", "FAILED SU (to root) alice on pts/0",
// "'su root' failed for lonvick on /dev/pts/8" and "+ pts/0 alice:root".
func su(msg string, ev *event.Event) {
	switch {
	case strings.HasPrefix(msg, "Successful su for "):
		set(ev, "su_session", "success")
		target, by, _ := strings.Cut(strings.TrimPrefix(msg, "Successful su for "), " by ")
		ev.Set("user.name", by)
		ev.Set("user.effective.name", target)
	case strings.HasPrefix(msg, "FAILED SU (to "), strings.HasPrefix(msg, "FAILED su for "):
		set(ev, "su_session", "failure")
		if i := strings.Index(msg, "(to "); i >= 0 {
			target, after, _ := strings.Cut(msg[i+4:], ") ")
			ev.Set("user.effective.name", target)
			ev.Set("user.name", firstWord(after))
		} else {
			target, by, _ := strings.Cut(strings.TrimPrefix(msg, "FAILED su for "), " by ")
			ev.Set("user.effective.name", target)
			ev.Set("user.name", firstWord(by))
		}
	case strings.Contains(msg, "' failed for "):
		set(ev, "su_session", "failure")
		ev.Set("user.name", firstWord(msg[strings.Index(msg, "' failed for ")+len("' failed for "):]))
		if t := strings.Fields(strings.Trim(msg[:strings.Index(msg, "' failed")], "'")); len(t) > 1 {
			ev.Set("user.effective.name", t[1])
		}
	case strings.HasPrefix(msg, "+ ") || strings.HasPrefix(msg, "- "):
		if f := strings.Fields(msg); len(f) == 3 {
			by, target, _ := strings.Cut(f[2], ":")
			set(ev, "su_session", map[bool]string{true: "success", false: "failure"}[msg[0] == '+'])
			ev.Set("user.name", by)
			ev.Set("user.effective.name", target)
		}
	}
}

// logind handles "New session 12 of user alice." and "Removed session 12.".
func logind(msg string, ev *event.Event) {
	switch {
	case strings.HasPrefix(msg, "New session "):
		set(ev, "logind_session_new", "success")
		ev.Set("user.name", strings.TrimSuffix(userAfter(msg, " of user "), "."))
		ev.Set("session.id", firstWord(strings.TrimPrefix(msg, "New session ")))
	case strings.HasPrefix(msg, "Removed session "):
		set(ev, "logind_session_removed", "")
		ev.Set("session.id", strings.TrimSuffix(firstWord(strings.TrimPrefix(msg, "Removed session ")), "."))
	case strings.HasPrefix(msg, "Session ") && strings.Contains(msg, " logged out"):
		set(ev, "logind_session_removed", "")
	}
}

// other handles login, klogind, passwd and user management lines.
func other(msg string, ev *event.Event) {
	switch {
	case strings.HasPrefix(msg, "FAILED LOGIN"):
		set(ev, "login", "failure")
		ev.Set("user.name", firstWord(strings.TrimRight(userAfter(msg, " FOR "), ",")))
	case strings.HasPrefix(msg, "ROOT LOGIN") || strings.HasPrefix(msg, "LOGIN ON"):
		set(ev, "login", "success")
		if strings.HasPrefix(msg, "ROOT") {
			ev.Set("user.name", "root")
		} else {
			ev.Set("user.name", userAfter(msg, " BY "))
		}
	case strings.HasPrefix(msg, "Authentication failed from ") || strings.Contains(msg, "authentication failed"):
		set(ev, "login", "failure")
	case strings.HasPrefix(msg, "new user: "), strings.HasPrefix(msg, "new group: "):
		set(ev, "user_created", "success")
		ev.Set("user.name", strings.TrimRight(strings.TrimPrefix(kv(msg, "name"), ""), ","))
	case strings.HasPrefix(msg, "password changed for "):
		set(ev, "password_changed", "success")
		ev.Set("user.name", strings.TrimPrefix(msg, "password changed for "))
	}
	if ip, port := findAddr(msg); ip != "" {
		fieldkit.SetIP(ev, "source.ip", ip)
		fieldkit.SetPort(ev, "source.port", port)
	}
}

// pam handles pam_unix and other module lines: authentication failures
// ("authentication failure; logname= uid=0 … rhost=1.2.3.4  user=root"),
// "check pass; user unknown", and sessions opened and closed.
func (p *Parser) pam(msg string, ev *event.Event) {
	svc := ""
	if i := strings.Index(msg, "pam_unix("); i >= 0 {
		rest := msg[i+len("pam_unix("):]
		if j := strings.IndexByte(rest, ')'); j > 0 {
			svc, _, _ = strings.Cut(rest[:j], ":")
			msg = strings.TrimPrefix(rest[j+1:], ": ")
		}
	}
	if svc == "" {
		if app, _, ok := strings.Cut(string(p.h.AppName), "(pam_"); ok {
			svc = string(syslog.Program([]byte(app)))
		}
	}
	switch svc { // constants are boxed at compile time; the usual services
	case "sshd":
		ev.Set("pam.service", "sshd")
	case "sudo":
		ev.Set("pam.service", "sudo")
	case "su":
		ev.Set("pam.service", "su")
	case "login":
		ev.Set("pam.service", "login")
	default:
		ev.Set("pam.service", svc)
	}
	switch {
	case strings.Contains(msg, "authentication failure"):
		if _, has := ev.Fields["event.action"]; !has || strings.HasPrefix(msg, "authentication failure") {
			set(ev, "pam_auth_failure", "failure")
		}
		if u := kv(msg, "user"); u != "" {
			ev.Set("user.name", u)
		}
		if r := kv(msg, "rhost"); r != "" {
			if cur, _ := ev.Fields["source.ip"].(string); cur == r {
				// The address the sshd line gave (canonical, in related.ip
				// too): storing it again changes nothing.
			} else if fieldkit.IsIP(r) {
				fieldkit.SetIP(ev, "source.ip", r)
			} else {
				ev.Set("source.domain", r)
			}
		}
		// "PAM 2 more authentication failures": the first three words.
		if w0, r := nextField(msg); w0 == "PAM" {
			if w1, r := nextField(r); w1 != "" {
				if w2, _ := nextField(r); w2 != "" {
					if c, err := strconv.Atoi(w1); err == nil {
						ev.Set("pam.failures", int64(c))
					}
				}
			}
		}
	case strings.HasPrefix(msg, "check pass; user unknown"):
		set(ev, "pam_user_unknown", "failure")
	case strings.HasPrefix(msg, "session opened for user "):
		action := "session_opened"
		switch svc {
		case "su", "su-l":
			action = "su_session"
		case "sudo", "sudo-i":
			action = "sudo_session"
		case "sshd":
			action = "ssh_session_opened"
		}
		set(ev, action, "success")
		target, _, _ := strings.Cut(firstWord(strings.TrimPrefix(msg, "session opened for user ")), "(")
		ev.Set("user.effective.name", target)
		ev.Set("user.name", target)
		if by := userAfter(msg, " by "); by != "" {
			by, _, _ = strings.Cut(by, "(")
			if by != "" {
				ev.Set("user.name", by)
			}
		}
	case strings.HasPrefix(msg, "session closed for user "):
		set(ev, "session_closed", "")
		ev.Set("user.name", firstWord(strings.TrimPrefix(msg, "session closed for user ")))
	}
}

// set takes any so that the usual constant arguments are boxed at compile
// time rather than on every call.
func set(ev *event.Event, action, outcome any) {
	ev.Set("event.action", action)
	ev.Set("event.outcome", outcome)
	if outcome == "success" {
		ev.Set("event.type", "start")
	}
}

// userAfter returns the word after marker (users may not contain spaces).
func userAfter(msg, marker string) string {
	i := strings.Index(msg, marker)
	if i < 0 {
		return ""
	}
	return firstWord(msg[i+len(marker):])
}

func firstWord(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			return s[:i]
		}
	}
	return s
}

// pamApp reports whether app is prog + "(pam_…" (a PAM module logging
// under the program's name), without building that prefix per line.
func pamApp(app []byte, prog string) bool {
	return len(app) > len(prog) && string(app[:len(prog)]) == prog && bytes.HasPrefix(app[len(prog):], []byte("(pam_"))
}

func word(msg, prefix string) string { return firstWord(strings.TrimPrefix(msg, prefix)) }

// kv returns the value of "key=value" in a PAM message (value up to space).
func kv(msg, key string) string {
	for off := 0; ; {
		i := strings.Index(msg[off:], key+"=")
		if i < 0 {
			return ""
		}
		i += off
		if i == 0 || msg[i-1] == ' ' || msg[i-1] == ';' || msg[i-1] == ',' {
			v := msg[i+len(key)+1:]
			if j := strings.IndexAny(v, " ,;"); j >= 0 {
				v = v[:j]
			}
			return v
		}
		off = i + len(key) + 1
	}
}
