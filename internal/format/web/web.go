// Package web reads web server access logs in the Apache/nginx "combined"
// and "common" formats, optionally prefixed by a virtual host
// ("vhost:port " as in Apache's vhost_combined):
//
//	203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08"
//
// A request line that is not "METHOD TARGET PROTOCOL" (TLS bytes sent to a
// plain port, scanners' junk) is kept in url.original with no method.
package web

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
)

// Name is the format name.
const Name = "web"

func init() { format.Register(Format{}) }

// Format is the web access log format.
type Format struct{}

// Name returns "web".
func (Format) Name() string { return Name }

// Sniff scores 80 for lines with the access log shape: "host ident user [time] \"".
func (Format) Sniff(rec []byte) int {
	lb := bytes.IndexByte(rec[:min(len(rec), 512)], '[')
	if lb < 5 || rec[lb-1] != ' ' {
		return 0
	}
	rb := bytes.IndexByte(rec[lb:min(len(rec), lb+40)], ']')
	if rb < 0 || lb+rb+3 > len(rec) || rec[lb+rb+1] != ' ' || rec[lb+rb+2] != '"' {
		return 0
	}
	if _, err := time.Parse(clf, string(rec[lb+1:lb+rb])); err != nil {
		return 0
	}
	return 80
}

const clf = "02/Jan/2006:15:04:05 -0700"

// NewParser returns an access log parser.
func (Format) NewParser(format.Options) format.Parser { return &Parser{} }

// Parser parses access log lines; it is stateless.
type Parser struct{}

var _ format.Parser = (*Parser)(nil)

// Parse fills ev from one access log line.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	line := string(fieldkit.ValidText(rec))
	if strings.TrimSpace(line) == "" {
		return format.ErrNoEvent
	}
	lb := strings.IndexByte(line, '[')
	rb := strings.IndexByte(line[max(lb, 0):], ']')
	if lb < 0 || rb < 0 {
		return format.Reject("invalid_access_log", "no [time] field")
	}
	rb += lb
	head := strings.Fields(line[:lb])
	if len(head) < 3 {
		return format.Reject("invalid_access_log", "expected host, ident and user before [time]")
	}
	if len(head) >= 4 { // vhost prefix
		host, port, _ := strings.Cut(head[len(head)-4], ":")
		ev.Set("url.domain", host)
		fieldkit.SetPort(ev, "url.port", port)
	}
	client, user := head[len(head)-3], head[len(head)-1]
	t, err := time.Parse(clf, line[lb+1:rb])
	if err != nil {
		return format.Reject("invalid_access_log", "bad time %q", line[lb+1:rb])
	}
	ev.Time = t.UTC()
	quoted, rest, err := quotes(line[rb+1:])
	if err != nil || len(quoted) == 0 {
		return format.Reject("invalid_access_log", "no quoted request line")
	}
	fields := strings.Fields(rest[0])
	if len(fields) < 1 {
		return format.Reject("invalid_access_log", "no status after the request line")
	}
	status, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || status < 100 || status > 999 {
		return format.Reject("invalid_access_log", "bad status %q", fields[0])
	}
	if fieldkit.IsIP(client) {
		fieldkit.SetIP(ev, "source.ip", client)
	} else {
		ev.Set("source.domain", client)
	}
	if user != "-" {
		ev.Set("user.name", user)
		fieldkit.AddRelated(ev, "related.user", user)
	}
	request(ev, quoted[0])
	ev.Set("http.response.status_code", status)
	if len(fields) > 1 {
		if n, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
			ev.Set("http.response.body.bytes", n)
		}
	}
	if len(quoted) > 1 && quoted[1] != "-" {
		ev.Set("http.request.referrer", quoted[1])
	}
	if len(quoted) > 2 && quoted[2] != "-" {
		ev.Set("user_agent.original", quoted[2])
	}
	ev.Set("event.module", "web")
	ev.Set("event.dataset", "web.access")
	ev.Set("event.category", "web")
	ev.Set("event.kind", "event")
	if status < 400 {
		ev.Set("event.outcome", "success")
	} else {
		ev.Set("event.outcome", "failure")
	}
	ev.Set("message", quoted[0])
	ev.Format = Name
	return nil
}

// request splits "METHOD TARGET PROTOCOL".
func request(ev *event.Event, req string) {
	parts := strings.Split(req, " ")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/") || !isMethod(parts[0]) {
		ev.Set("url.original", req)
		return
	}
	ev.Set("http.request.method", parts[0])
	ev.Set("http.version", strings.TrimPrefix(parts[2], "HTTP/"))
	target := parts[1]
	ev.Set("url.original", target)
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") { // proxy requests
		scheme, after, _ := strings.Cut(target, "://")
		ev.Set("url.scheme", scheme)
		host, path, _ := strings.Cut(after, "/")
		ev.Set("url.domain", host)
		target = "/" + path
	}
	path, query, hasQ := strings.Cut(target, "?")
	ev.Set("url.path", path)
	if hasQ {
		ev.Set("url.query", query)
	}
}

func isMethod(m string) bool {
	if m == "" || len(m) > 20 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// quotes reads ` "REQUEST" STATUS SIZE "REFERRER" "AGENT" ...`: the quoted
// strings (\" and \\ are escapes; Apache's \xHH stays as written) and, in between[0], the text after the first one.
func quotes(s string) (quoted, between []string, err error) {
	s = strings.TrimLeft(s, " ")
	for len(s) > 0 {
		if s[0] != '"' {
			j := strings.IndexByte(s, '"')
			if j < 0 {
				j = len(s)
			}
			if len(quoted) == 1 && len(between) == 0 {
				between = append(between, s[:j])
			}
			s = s[j:]
			continue
		}
		var b strings.Builder
		i, closed := 1, false
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
				i++
				b.WriteByte(s[i])
				continue
			}
			if c == '"' {
				closed = true
				break
			}
			b.WriteByte(c)
		}
		if !closed {
			return nil, nil, format.Reject("invalid_access_log", "unterminated quote")
		}
		quoted = append(quoted, b.String())
		s = s[i+1:]
	}
	if len(between) == 0 {
		between = append(between, "")
	}
	return quoted, between, nil
}
