package sigma

import "strings"

// Field mapping: a Sigma field name resolves to the list of event keys
// (docs/fields.md) read in order; the first present one is the value.

// windowsSystem maps Sigma's Windows System field names to winlog.* keys.
var windowsSystem = map[string][]string{
	"EventID":         {"winlog.event_id"},
	"Channel":         {"winlog.channel"},
	"Provider_Name":   {"winlog.provider_name"},
	"Provider":        {"winlog.provider_name"},
	"Provider_Guid":   {"winlog.provider_guid"},
	"Computer":        {"winlog.computer_name", "host.name"},
	"ComputerName":    {"winlog.computer_name", "host.name"},
	"Security_UserID": {"winlog.user.identifier"},
	"UserID":          {"winlog.user.identifier"},
	"EventRecordID":   {"winlog.record_id"},
	"Level":           {"winlog.level"},
	"Task":            {"winlog.task"},
	"Opcode":          {"winlog.opcode"},
	"Keywords":        {"winlog.keywords"},
	"Version":         {"winlog.version"},
}

// processCreation4688 adds the Security 4688 names behind Sysmon's
// process_creation field names (as SigmaHQ's windows pipeline does).
var processCreation4688 = map[string]string{
	"Image":       "NewProcessName",
	"ParentImage": "ParentProcessName",
	"LogonId":     "TargetLogonId",
	"User":        "TargetUserName",
	"ProcessId":   "NewProcessId",
}

// webFields maps W3C/IIS webserver and proxy field names to ECS.
var webFields = map[string][]string{
	"cs-uri-query":    {"url.query"},
	"c-uri-query":     {"url.query"},
	"cs-uri-stem":     {"url.path"},
	"c-uri-stem":      {"url.path"},
	"cs-uri":          {"url.original"},
	"c-uri":           {"url.original"},
	"c-uri-extension": {"url.extension"},
	"c-ip":            {"source.ip"},
	"s-ip":            {"destination.ip"},
	"dst-ip":          {"destination.ip"},
	"cs-method":       {"http.request.method"},
	"sc-status":       {"http.response.status_code"},
	"cs-user-agent":   {"user_agent.original"},
	"c-useragent":     {"user_agent.original"},
	"cs-referrer":     {"http.request.referrer"},
	"cs-referer":      {"http.request.referrer"},
	"cs-host":         {"url.domain", "destination.domain"},
	"r-dns":           {"url.domain", "destination.domain"},
	"cs-cookie":       {"http.request.cookie"},
	"cs-username":     {"user.name"},
	"cs-version":      {"http.version"},
	"sc-bytes":        {"http.response.bytes"},
	"cs-bytes":        {"http.request.bytes"},
	"s-port":          {"destination.port"},
	"src_ip":          {"source.ip"},
	"dst_ip":          {"destination.ip"},
	"dst_port":        {"destination.port"},
	"src_port":        {"source.port"},
}

// linuxFields maps the field names SigmaHQ's Linux rules use.
var linuxFields = map[string][]string{
	"User":              {"user.name"},
	"CommandLine":       {"process.command_line"},
	"Image":             {"process.executable"},
	"ParentImage":       {"process.parent.executable"},
	"ParentCommandLine": {"process.parent.command_line"},
	"ProcessId":         {"process.pid"},
	"CurrentDirectory":  {"process.working_directory", "sudo.pwd"},
	"LogonId":           {"process.user.id"},
	"TargetFilename":    {"file.path"},
	"pam_user":          {"user.name"},
	"pam_rhost":         {"source.ip"},
}

// genericFields covers category fields shared across products.
var genericFields = map[string][]string{
	"query":         {"dns.question.name"},
	"QueryName":     {"dns.question.name", "winlog.event_data.QueryName"},
	"record_type":   {"dns.question.type"},
	"SourceIp":      {"source.ip"},
	"DestinationIp": {"destination.ip"},
}

// resolveField returns the event keys a Sigma field name reads, for a rule
// with logsource ls. The name itself is always the last fallback, so ECS
// and flat JSON fields can be named directly.
func resolveField(ls Logsource, name string) []string {
	var keys []string
	add := func(k ...string) {
		for _, x := range k {
			dup := false
			for _, y := range keys {
				if y == x {
					dup = true
				}
			}
			if !dup {
				keys = append(keys, x)
			}
		}
	}
	switch {
	case ls.Product == "windows":
		if sys, ok := windowsSystem[name]; ok {
			add(sys...)
			break
		}
		add("winlog.event_data."+name, "winlog.user_data."+name)
		if sp := spaced(name); sp != name {
			// Defender and some other providers render names with spaces
			// ("Threat Name"); Sigma writes them without (ThreatName).
			add("winlog.event_data." + sp)
		}
		if ls.Category == "process_creation" {
			if alt, ok := processCreation4688[name]; ok {
				add("winlog.event_data." + alt)
			}
		}
	case ls.Product == "zeek":
		add("zeek." + name)
	case ls.Product == "linux" || ls.Product == "unix":
		if m, ok := linuxFields[name]; ok {
			add(m...)
		}
		if strings.HasPrefix(ls.Service, "auditd") {
			add("auditd." + name)
		}
	}
	if m, ok := webFields[name]; ok && (ls.Category == "webserver" || ls.Category == "proxy" || ls.Category == "firewall" || ls.Product == "apache" || ls.Product == "nginx" || ls.Service == "apache" || ls.Service == "nginx") {
		add(m...)
	}
	if m, ok := genericFields[name]; ok {
		add(m...)
	}
	add(name)
	return keys
}

// spaced inserts a space between a lower-case letter and the upper-case
// letter after it: "ThreatName" → "Threat Name".
func spaced(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i > 0 && c >= 'A' && c <= 'Z' && s[i-1] >= 'a' && s[i-1] <= 'z' {
			b.WriteByte(' ')
		}
		b.WriteByte(c)
	}
	return b.String()
}
