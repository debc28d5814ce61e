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
	// 4688 has no ParentProcessId: its creator is ProcessId.
	"ParentProcessId": "ProcessId",
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
		pc := ls.Category == "process_creation"
		if pc && name == "ProcessId" {
			// 4688's ProcessId is the creator's (the parent's) id; the new
			// process's is NewProcessId. Sysmon 1 has no NewProcessId.
			add("winlog.event_data.NewProcessId")
		}
		add("winlog.event_data."+name, "winlog.user_data."+name)
		if sp := spaced(name); sp != name {
			// Defender and some other providers render names with spaces
			// ("Threat Name"); Sigma writes them without (ThreatName).
			add("winlog.event_data." + sp)
		}
		if pc {
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

// accessRights are the descriptions Windows renders for the access-right
// codes Security events carry as "%%NNNN" insertion strings (the msobjs.dll
// message table; 4656, 4663 and 5145 list them in AccessList, one per
// line). The event holds the codes; the event viewer and text exports show
// the descriptions. SigmaHQ's rules use both: "%%4417" in some,
// "WriteData" (the rendered text) in others.
var accessRights = []struct{ code, desc string }{
	{"1537", "DELETE"},
	{"1538", "READ_CONTROL"},
	{"1539", "WRITE_DAC"},
	{"1540", "WRITE_OWNER"},
	{"1541", "SYNCHRONIZE"},
	{"1542", "ACCESS_SYS_SEC"},
	// Files, directories and named pipes.
	{"4416", "ReadData (or ListDirectory)"},
	{"4417", "WriteData (or AddFile)"},
	{"4418", "AppendData (or AddSubdirectory or CreatePipeInstance)"},
	{"4419", "ReadEA"},
	{"4420", "WriteEA"},
	{"4421", "Execute/Traverse"},
	{"4422", "DeleteChild"},
	{"4423", "ReadAttributes"},
	{"4424", "WriteAttributes"},
	// Registry keys.
	{"4432", "Query key value"},
	{"4433", "Set key value"},
	{"4434", "Create sub-key"},
	{"4435", "Enumerate sub-keys"},
	{"4436", "Notify about changes to keys"},
	{"4437", "Create Link"},
	// Processes.
	{"4480", "Force process termination"},
	{"4481", "Create new thread in process"},
	{"4482", "Set process session ID"},
	{"4483", "Perform virtual memory operation"},
	{"4484", "Read from process memory"},
	{"4485", "Write to process memory"},
	{"4486", "Duplicate handle into or out of process"},
	{"4487", "Create a subprocess of process"},
	{"4488", "Set process quotas"},
	{"4489", "Set process information"},
	{"4490", "Query process information"},
	{"4491", "Set process termination port"},
}

// renderedAccessRights lets a Windows rule's "AccessList|contains" value
// written as rendered text ("WriteData") match the codes the event holds:
// each value whose text occurs in an access right's description also
// matches that right's "%%code". The written value stays an alternative
// (input that carries the rendered text still matches it), and each value
// keeps its own group, so "all" still needs every value.
func renderedAccessRights(ls Logsource, field string, m modSet, groups [][]*valueMatcher) [][]*valueMatcher {
	// (contains excludes re, cidr and numeric comparisons: modSet.validate)
	if ls.Product != "windows" || field != "AccessList" || !m.contains || m.neq || m.fieldref || m.transforms() {
		return groups
	}
	for gi, g := range groups {
		var add []*valueMatcher
		for _, code := range accessRights {
			for _, vm := range g {
				if vm.op == opNull || strings.Contains(vm.text, "%%") {
					continue
				}
				d := code.desc
				if !vm.cased {
					d = strings.ToLower(d)
				}
				if vm.matchStr(d) {
					add = append(add, compileString("%%"+code.code, vm.text, false, m))
					break
				}
			}
		}
		if len(add) > 0 {
			groups[gi] = append(g[:len(g):len(g)], add...)
		}
	}
	return groups
}

// paddedLogonProcess lets a Windows rule's exact LogonProcessName value
// ("NtLmSsp", "Advapi") match the name as 4624/4625 events carry it,
// padded with trailing spaces ("NtLmSsp ", "Advapi  ", "User32 "): each
// such value also matches itself followed by one or two spaces.
func paddedLogonProcess(ls Logsource, field string, m modSet, groups [][]*valueMatcher) [][]*valueMatcher {
	// (re, cidr, numeric and fieldref values are not opEq: checked per value)
	if ls.Product != "windows" || field != "LogonProcessName" || m.contains || m.startswith || m.endswith || m.transforms() {
		return groups
	}
	for gi, g := range groups {
		var add []*valueMatcher
		for _, vm := range g {
			if vm.op != opEq || vm.text == "" || strings.HasSuffix(vm.text, " ") {
				continue
			}
			add = append(add, compileString(vm.text+" ", vm.text, false, m), compileString(vm.text+"  ", vm.text, false, m))
		}
		if len(add) > 0 {
			groups[gi] = append(g[:len(g):len(g)], add...)
		}
	}
	return groups
}

// jsonEscapedKeywords lets a keyword with a double quote or a backslash
// ('-Name "Evil"', 'C:\ProgramData\x.exe') match an event without a message
// field, whose keyword text is the raw record: in a JSON record those bytes
// are escaped (\" and \\). Each such plain keyword also matches its
// JSON-escaped form; wildcards stay wildcards.
func jsonEscapedKeywords(field string, m modSet, groups [][]*valueMatcher) [][]*valueMatcher {
	if field != "" || !m.contains || m.fieldref || m.transforms() {
		return groups
	}
	for gi, g := range groups {
		var add []*valueMatcher
		for _, vm := range g {
			if vm.op == opNull || !strings.ContainsAny(vm.text, `"\`) {
				continue
			}
			toks := parseWildcards(vm.text)
			esc := make([]globTok, 0, len(toks)+4)
			changed := false
			for _, t := range toks {
				if t.kind == 'l' && (t.b == '"' || t.b == '\\') {
					esc = append(esc, globTok{kind: 'l', b: '\\'})
					changed = true
				}
				esc = append(esc, t)
			}
			if changed {
				add = append(add, compileTokens(esc, vm.text, false, m))
			}
		}
		if len(add) > 0 {
			groups[gi] = append(g[:len(g):len(g)], add...)
		}
	}
	return groups
}
