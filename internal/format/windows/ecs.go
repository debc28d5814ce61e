package windows

import (
	"strconv"
	"strings"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
)

// ed prefixes EventData field names.
const ed = "winlog.event_data."

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

	// Callers pass ed+"Name": a constant key, so no string is built per lookup.
	d := func(key string) string {
		s, _ := f[key].(string)
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
	if exe := first(ed+"Image", ed+"NewProcessName"); exe != "" {
		ev.Set("process.executable", exe)
		ev.Set("process.name", baseName(exe))
	}
	ev.Set("process.command_line", d(ed+"CommandLine"))
	ev.Set("process.parent.executable", first(ed+"ParentImage", ed+"ParentProcessName"))
	ev.Set("process.parent.command_line", d(ed+"ParentCommandLine"))
	// 4688 names the new process NewProcessId and its creator ProcessId;
	// Sysmon names them ProcessId and ParentProcessId.
	pid, ppid := d(ed+"ProcessId"), d(ed+"ParentProcessId")
	if np := d(ed + "NewProcessId"); np != "" {
		pid, ppid = np, first(ed+"ParentProcessId", ed+"ProcessId")
	}
	if pid, ok := fieldkit.ParseInt(pid); ok {
		ev.Set("process.pid", pid)
	}
	if pid, ok := fieldkit.ParseInt(ppid); ok {
		ev.Set("process.parent.pid", pid)
	}

	switch {
	case d(ed+"TargetUserName") != "":
		ev.Set("user.name", d(ed+"TargetUserName"))
		ev.Set("user.domain", d(ed+"TargetDomainName"))
	case d(ed+"SubjectUserName") != "":
		ev.Set("user.name", d(ed+"SubjectUserName"))
		ev.Set("user.domain", d(ed+"SubjectDomainName"))
	case d(ed+"User") != "":
		u := d(ed + "User")
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
	if u := d(ed + "SubjectUserName"); u != "" {
		fieldkit.AddRelated(ev, "related.user", u)
	}

	fieldkit.SetIP(ev, "source.ip", first(ed+"IpAddress", ed+"SourceIp", ed+"SourceAddress", ed+"ClientAddress"))
	fieldkit.SetPort(ev, "source.port", first(ed+"IpPort", ed+"SourcePort"))
	fieldkit.SetIP(ev, "destination.ip", first(ed+"DestinationIp", ed+"DestAddress"))
	fieldkit.SetPort(ev, "destination.port", first(ed+"DestinationPort", ed+"DestPort"))
	ev.Set("source.domain", d(ed+"SourceHostname"))
	ev.Set("destination.domain", d(ed+"DestinationHostname"))
	ev.Set("file.path", d(ed+"TargetFilename"))
	ev.Set("dns.question.name", d(ed+"QueryName"))
	ev.Set("registry.path", d(ed+"TargetObject"))
	if h := d(ed + "Hashes"); h != "" {
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
