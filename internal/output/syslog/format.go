package syslog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/signal"
)

// Bounds that keep one alert's structured data small whatever it holds.
const (
	maxSDValue  = 256
	maxEntities = 16
)

// severity maps an alert level to a syslog severity.
func severity(l signal.Level) int {
	switch l {
	case signal.LevelCritical:
		return 2 // crit
	case signal.LevelHigh:
		return 3 // err
	case signal.LevelMedium:
		return 4 // warning
	case signal.LevelLow:
		return 5 // notice
	}
	return 6 // info
}

// cefSeverity maps an alert level to CEF's 0–10 scale.
func cefSeverity(l signal.Level) int {
	switch l {
	case signal.LevelCritical:
		return 10
	case signal.LevelHigh:
		return 8
	case signal.LevelMedium:
		return 5
	case signal.LevelLow:
		return 3
	}
	return 1
}

// headerField renders an RFC 5424 header field: PRINTUSASCII only, at most
// max bytes, "-" when empty.
func headerField(s string, max int) string {
	b := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(b) < max; i++ {
		if c := s[i]; c >= 33 && c <= 126 {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// oneLine makes s valid UTF-8 without CR or LF, so that no framing can split it.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// sdEscape escapes an SD-PARAM value (RFC 5424 §6.3.3: '"', '\' and ']').
var sdEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)

func sdParam(b *strings.Builder, name, value string) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	b.WriteString(sdEscape.Replace(truncate(oneLine(value), maxSDValue)))
	b.WriteByte('"')
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}

// structuredData renders the alert as one SD-ELEMENT; full=false keeps
// only the identifying params, for messages that would not fit otherwise.
func structuredData(sdID string, a *alert.Alert, full bool) string {
	var b strings.Builder
	b.WriteByte('[')
	b.WriteString(sdID)
	sdParam(&b, "id", a.ID)
	sdParam(&b, "rule_id", a.RuleID)
	sdParam(&b, "level", string(a.Level))
	if full {
		sdParam(&b, "detector", a.Detector)
		sdParam(&b, "layer", string(a.Layer))
		if a.RuleVersion != "" {
			sdParam(&b, "rule_version", a.RuleVersion)
		}
		sdParam(&b, "score", strconv.FormatFloat(a.Score, 'f', -1, 64))
		sdParam(&b, "count", strconv.FormatInt(a.Count, 10))
		sdParam(&b, "first_seen", rfc3339(a.FirstSeen))
		sdParam(&b, "last_seen", rfc3339(a.LastSeen))
		for i, e := range a.Entities {
			if i == maxEntities {
				break
			}
			// RFC 5424 allows a PARAM-NAME to repeat within an element.
			sdParam(&b, "entity", e.Kind+"="+e.Value)
		}
		if len(a.Techniques) > 0 {
			sdParam(&b, "techniques", strings.Join(a.Techniques, ","))
		}
	}
	b.WriteByte(']')
	return b.String()
}

// header renders "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID ".
func (o *Output) header(sev int) string {
	return fmt.Sprintf("<%d>1 %s %s %s %s %s ", o.facility*8+sev, rfc3339(o.now()), o.hostname, o.appName, o.procID, "alert")
}

// formatRFC5424 renders one alert as an RFC 5424 message of at most max bytes.
func (o *Output) formatRFC5424(a *alert.Alert) string {
	h := o.header(severity(a.Level))
	sd := structuredData(o.cfg.SDID, a, true)
	msg := oneLine(a.Title)
	if a.Explanation != "" {
		msg += ": " + oneLine(a.Explanation)
	}
	if len(h)+len(sd)+1 > o.cfg.MaxMessageBytes {
		sd = structuredData(o.cfg.SDID, a, false)
	}
	return truncate(h+sd+" "+msg, o.cfg.MaxMessageBytes)
}

// CEF escaping (ArcSight CEF rev. 25): in the header '\' and '|' are
// escaped; in extension values '\', '=' and line breaks are.
var (
	cefHeaderEscape = strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\r\n", " ", "\r", " ", "\n", " ")
	cefExtEscape    = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r", `\r`, "\n", `\n`)
)

func cefHeader(s string, max int) string {
	return cefHeaderEscape.Replace(truncate(strings.ToValidUTF8(s, "\uFFFD"), max))
}

func cefExt(b *strings.Builder, key, value string) {
	if value == "" {
		return
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(key)
	b.WriteByte('=')
	b.WriteString(cefExtEscape.Replace(truncate(strings.ToValidUTF8(value, "\uFFFD"), 1023)))
}

func millis(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// formatCEF renders one alert as CEF inside an RFC 5424 message without
// structured data.
func (o *Output) formatCEF(a *alert.Alert) string {
	var ext strings.Builder
	cefExt(&ext, "rt", millis(a.LastSeen))
	cefExt(&ext, "start", millis(a.FirstSeen))
	cefExt(&ext, "end", millis(a.LastSeen))
	cefExt(&ext, "cnt", strconv.FormatInt(a.Count, 10))
	cefExt(&ext, "externalId", a.ID)
	cefExt(&ext, "cat", a.Detector)
	cefExt(&ext, "msg", a.Explanation)
	var user, host bool
	for _, e := range a.Entities {
		switch {
		case e.Kind == "user" && !user:
			user = true
			cefExt(&ext, "suser", e.Value)
		case e.Kind == "host" && !host:
			host = true
			cefExt(&ext, "dhost", e.Value)
		}
	}
	cefExt(&ext, "cs1Label", "layer")
	cefExt(&ext, "cs1", string(a.Layer))
	cefExt(&ext, "cs2Label", "ruleVersion")
	cefExt(&ext, "cs2", a.RuleVersion)
	cefExt(&ext, "cs3Label", "entities")
	cefExt(&ext, "cs3", alert.EntityKey(a.Entities))
	cefExt(&ext, "cs4Label", "techniques")
	cefExt(&ext, "cs4", strings.Join(a.Techniques, ","))
	cefExt(&ext, "cs5Label", "level")
	cefExt(&ext, "cs5", string(a.Level))
	cefExt(&ext, "cfp1Label", "score")
	cefExt(&ext, "cfp1", strconv.FormatFloat(a.Score, 'f', -1, 64))
	cef := fmt.Sprintf("CEF:0|%s|%s|%s|%s|%s|%d|%s",
		cefHeader(o.cfg.DeviceVendor, 63), cefHeader(o.cfg.DeviceProduct, 63), cefHeader(o.cfg.DeviceVersion, 31),
		cefHeader(a.RuleID, 1023), cefHeader(a.Title, 512), cefSeverity(a.Level), ext.String())
	return truncate(o.header(severity(a.Level))+"- "+cef, o.cfg.MaxMessageBytes)
}
