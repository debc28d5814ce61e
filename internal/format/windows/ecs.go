package windows

import (
	"strconv"
	"strings"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
)

// finish sets the contract's common fields and ECS copies from the winlog.* fields.
func finish(ev *event.Event) {
	f := ev.Fields
	id, _ := f["winlog.event_id"].(int64)
	ev.Set("event.code", strconv.FormatInt(id, 10))
	ev.Set("event.module", "windows")
	channel, _ := f["winlog.channel"].(string)
	if channel != "" {
		ev.Set("event.dataset", "windows."+strings.ToLower(channel))
	} else {
		ev.Set("event.dataset", "windows")
	}
	if h, ok := f["winlog.computer_name"].(string); ok {
		ev.Set("host.name", h)
	} else if h, ok := f["host.name"].(string); ok {
		ev.Set("winlog.computer_name", h)
	}
	ev.Set("event.provider", str(f, "winlog.provider_name"))
	// Security audit keywords carry the outcome.
	if kw, ok := f["winlog.keywords"].(string); ok {
		switch {
		case strings.EqualFold(kw, "0x8010000000000000") || strings.Contains(kw, "Audit Failure"):
			ev.Set("event.outcome", "failure")
		case strings.EqualFold(kw, "0x8020000000000000") || strings.Contains(kw, "Audit Success"):
			ev.Set("event.outcome", "success")
		}
	}

	d := func(name string) string {
		s, _ := f["winlog.event_data."+name].(string)
		if s == "-" {
			return ""
		}
		return s
	}
	first := func(names ...string) string {
		for _, n := range names {
			if s := d(n); s != "" {
				return s
			}
		}
		return ""
	}
	if exe := first("Image", "NewProcessName"); exe != "" {
		ev.Set("process.executable", exe)
		ev.Set("process.name", baseName(exe))
	}
	ev.Set("process.command_line", d("CommandLine"))
	ev.Set("process.parent.executable", first("ParentImage", "ParentProcessName"))
	ev.Set("process.parent.command_line", d("ParentCommandLine"))
	if pid, ok := fieldkit.ParseInt(first("ProcessId", "NewProcessId")); ok {
		ev.Set("process.pid", pid)
	}
	if pid, ok := fieldkit.ParseInt(d("ParentProcessId")); ok {
		ev.Set("process.parent.pid", pid)
	}

	switch {
	case d("TargetUserName") != "":
		ev.Set("user.name", d("TargetUserName"))
		ev.Set("user.domain", d("TargetDomainName"))
	case d("SubjectUserName") != "":
		ev.Set("user.name", d("SubjectUserName"))
		ev.Set("user.domain", d("SubjectDomainName"))
	case d("User") != "":
		u := d("User")
		if i := strings.LastIndexByte(u, '\\'); i >= 0 {
			ev.Set("user.domain", u[:i])
			u = u[i+1:]
		}
		ev.Set("user.name", u)
	case str(f, "winlog.user_data.SubjectUserName") != "":
		ev.Set("user.name", str(f, "winlog.user_data.SubjectUserName"))
		ev.Set("user.domain", str(f, "winlog.user_data.SubjectDomainName"))
	}
	if u, ok := f["user.name"].(string); ok {
		fieldkit.AddRelated(ev, "related.user", u)
	}
	if u := d("SubjectUserName"); u != "" {
		fieldkit.AddRelated(ev, "related.user", u)
	}

	fieldkit.SetIP(ev, "source.ip", first("IpAddress", "SourceIp", "SourceAddress", "ClientAddress"))
	fieldkit.SetPort(ev, "source.port", first("IpPort", "SourcePort"))
	fieldkit.SetIP(ev, "destination.ip", first("DestinationIp", "DestAddress"))
	fieldkit.SetPort(ev, "destination.port", first("DestinationPort", "DestPort"))
	ev.Set("source.domain", d("SourceHostname"))
	ev.Set("destination.domain", d("DestinationHostname"))
	ev.Set("file.path", d("TargetFilename"))
	ev.Set("dns.question.name", d("QueryName"))
	ev.Set("registry.path", d("TargetObject"))
	if h := d("Hashes"); h != "" {
		hashes(ev, h)
	}
}

// hashes splits Sysmon's "SHA1=..,MD5=..,SHA256=..,IMPHASH=.." into file.hash.*.
func hashes(ev *event.Event, s string) {
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			continue
		}
		v = strings.ToLower(strings.TrimSpace(v))
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "MD5":
			ev.Set("file.hash.md5", v)
		case "SHA1":
			ev.Set("file.hash.sha1", v)
		case "SHA256":
			ev.Set("file.hash.sha256", v)
		case "IMPHASH":
			ev.Set("file.pe.imphash", v)
		default:
			continue
		}
		fieldkit.AddRelated(ev, "related.hash", v)
	}
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func str(f map[string]any, k string) string {
	s, _ := f[k].(string)
	return s
}
