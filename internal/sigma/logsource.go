package sigma

import "strings"

// lsClause is one way an event can belong to a rule's logsource. A rule's
// logsource is the OR of its clauses; the router indexes them.
type lsClause struct {
	channel  string  // Windows channel, lower case ("" with windows=true: any Windows event)
	windows  bool    // clause is over Windows events
	eids     []int64 // Windows event ids (nil: any)
	dataset  string  // event.dataset equals
	module   string  // event.module equals
	category string  // event.category equals (ECS)
	any      bool    // every event
	// extra, when set, must also hold: field (lower-cased) equals one of values.
	extraField  string
	extraValues []string
}

const sysmonChannel = "microsoft-windows-sysmon/operational"

// sysmonCategories maps Sigma Windows categories to Sysmon event ids.
var sysmonCategories = map[string][]int64{
	"process_creation":         {1},
	"file_change":              {2},
	"network_connection":       {3},
	"sysmon_status":            {4, 16},
	"process_termination":      {5},
	"driver_load":              {6},
	"image_load":               {7},
	"create_remote_thread":     {8},
	"raw_access_thread":        {9},
	"raw_access_read":          {9},
	"process_access":           {10},
	"file_event":               {11},
	"registry_add":             {12},
	"registry_delete":          {12},
	"registry_set":             {13},
	"registry_rename":          {14},
	"registry_event":           {12, 13, 14},
	"create_stream_hash":       {15},
	"pipe_created":             {17, 18},
	"wmi_event":                {19, 20, 21},
	"dns_query":                {22},
	"file_delete":              {23, 26},
	"clipboard_capture":        {24},
	"process_tampering":        {25},
	"file_delete_detected":     {26},
	"file_block":               {27, 28},
	"file_block_executable":    {27},
	"file_block_shredding":     {28},
	"file_executable_detected": {29},
	"sysmon_error":             {255},
}

// windowsServices maps Sigma Windows services to event log channels.
var windowsServices = map[string][]string{
	"security":           {"security"},
	"system":             {"system"},
	"application":        {"application"},
	"sysmon":             {sysmonChannel},
	"powershell":         {"microsoft-windows-powershell/operational", "powershellcore/operational"},
	"powershell-classic": {"windows powershell"},
	"taskscheduler":      {"microsoft-windows-taskscheduler/operational"},
	"wmi":                {"microsoft-windows-wmi-activity/operational"},
	"dns-server":         {"dns server"},
	// The DNS server's channels are "Microsoft-Windows-DNSServer/…" (as
	// events and wevtutil name them); "DNS-Server" is the event viewer's
	// folder, the name SigmaHQ's mapping uses.
	"dns-server-analytic":                  {"microsoft-windows-dnsserver/analytical", "microsoft-windows-dns-server/analytical"},
	"dns-server-audit":                     {"microsoft-windows-dnsserver/audit", "microsoft-windows-dns-server/audit"},
	"dns-client":                           {"microsoft-windows-dns client events/operational", "microsoft-windows-dns-client/operational"},
	"driver-framework":                     {"microsoft-windows-driverframeworks-usermode/operational"},
	"ntlm":                                 {"microsoft-windows-ntlm/operational"},
	"windefend":                            {"microsoft-windows-windows defender/operational"},
	"firewall-as":                          {"microsoft-windows-windows firewall with advanced security/firewall"},
	"bits-client":                          {"microsoft-windows-bits-client/operational"},
	"codeintegrity-operational":            {"microsoft-windows-codeintegrity/operational"},
	"applocker":                            {"microsoft-windows-applocker/exe and dll", "microsoft-windows-applocker/msi and script", "microsoft-windows-applocker/packaged app-deployment", "microsoft-windows-applocker/packaged app-execution"},
	"msexchange-management":                {"msexchange management"},
	"printservice-admin":                   {"microsoft-windows-printservice/admin"},
	"printservice-operational":             {"microsoft-windows-printservice/operational"},
	"smbclient-security":                   {"microsoft-windows-smbclient/security"},
	"smbclient-connectivity":               {"microsoft-windows-smbclient/connectivity"},
	"smbserver-connectivity":               {"microsoft-windows-smbserver/connectivity"},
	"terminalservices-localsessionmanager": {"microsoft-windows-terminalservices-localsessionmanager/operational"},
	"appxdeployment-server":                {"microsoft-windows-appxdeploymentserver/operational"},
	"appxpackaging-om":                     {"microsoft-windows-appxpackaging/operational"},
	"appmodel-runtime":                     {"microsoft-windows-appmodel/runtime/admin", "microsoft-windows-appmodel-runtime/admin"},
	"capi2":                                {"microsoft-windows-capi2/operational"},
	"certificateservicesclient-lifecycle-system": {"microsoft-windows-certificateservicesclient-lifecycle-system/operational"},
	"diagnosis-scripted":                         {"microsoft-windows-diagnosis-scripted/operational"},
	"iis-configuration":                          {"microsoft-iis-configuration/operational"},
	"ldap":                                       {"microsoft-windows-ldap-client/debug"},
	"lsa-server":                                 {"microsoft-windows-lsa/operational"},
	"security-mitigations":                       {"microsoft-windows-security-mitigations/kernel mode", "microsoft-windows-security-mitigations/user mode"},
	"shell-core":                                 {"microsoft-windows-shell-core/operational"},
	"openssh":                                    {"openssh/operational"},
	"microsoft-servicebus-client":                {"microsoft-servicebus-client"},
	"vhdmp":                                      {"microsoft-windows-vhdmp-operational"},
	"kernel-shimengine":                          {"microsoft-windows-kernel-shimengine/operational"},
	"hyper-v-worker":                             {"microsoft-windows-hyper-v-worker"},
	"sysmon-operational":                         {sysmonChannel},
	"bitlocker":                                  {"microsoft-windows-bitlocker/bitlocker management", "microsoft-windows-bitlocker-api/management"},
	"iis":                                        {"microsoft-iis-logging/logs"},
}

// windowsCategoryClauses returns the clauses of a Windows category.
func windowsCategoryClauses(cat string) []lsClause {
	var out []lsClause
	if ids, ok := sysmonCategories[cat]; ok {
		out = append(out, lsClause{windows: true, channel: sysmonChannel, eids: ids})
	}
	ps := []string{"microsoft-windows-powershell/operational", "powershellcore/operational"}
	switch cat {
	case "process_creation":
		out = append(out, lsClause{windows: true, channel: "security", eids: []int64{4688}})
	case "process_termination":
		out = append(out, lsClause{windows: true, channel: "security", eids: []int64{4689}})
	case "dns_query":
		out = append(out, lsClause{windows: true, channel: "microsoft-windows-dns-client/operational", eids: []int64{3008}})
	case "ps_module":
		for _, c := range ps {
			out = append(out, lsClause{windows: true, channel: c, eids: []int64{4103}})
		}
	case "ps_script":
		for _, c := range ps {
			out = append(out, lsClause{windows: true, channel: c, eids: []int64{4104}})
		}
	case "ps_classic_start":
		out = append(out, lsClause{windows: true, channel: "windows powershell", eids: []int64{400}})
	case "ps_classic_provider_start":
		out = append(out, lsClause{windows: true, channel: "windows powershell", eids: []int64{600}})
	case "ps_classic_script":
		out = append(out, lsClause{windows: true, channel: "windows powershell", eids: []int64{800}})
	case "antivirus":
		out = append(out, lsClause{windows: true, channel: "microsoft-windows-windows defender/operational"})
	case "file_access", "file_rename":
		out = append(out, lsClause{windows: true, channel: "microsoft-windows-kernel-file/analytic"})
	}
	return out
}

// logsourceClauses compiles a rule's logsource into clauses. Unknown
// combinations fall back to ECS conventions (event.module = product,
// event.dataset = product.service or product.category), so rules for other
// products run on ECS input that names its source that way.
func logsourceClauses(ls Logsource) []lsClause {
	p, c, s := ls.Product, ls.Category, ls.Service
	switch p {
	case "windows":
		var out []lsClause
		if c != "" {
			out = windowsCategoryClauses(c)
			if len(out) == 0 {
				out = []lsClause{{windows: true}}
			}
		}
		if s != "" {
			chans, ok := windowsServices[s]
			if !ok {
				chans = []string{s}
			}
			var svc []lsClause
			for _, ch := range chans {
				svc = append(svc, lsClause{windows: true, channel: ch})
			}
			if c == "" {
				out = svc
			} else {
				out = intersectWindows(out, svc)
			}
		}
		if c == "" && s == "" {
			out = []lsClause{{windows: true}}
		}
		return out
	case "linux", "unix":
		return linuxClauses(c, s)
	case "zeek":
		if s != "" {
			return []lsClause{{dataset: "zeek." + s}}
		}
		if c == "dns" {
			return []lsClause{{dataset: "zeek.dns"}}
		}
		return []lsClause{{module: "zeek"}}
	}
	switch c {
	case "webserver":
		return []lsClause{{dataset: "web.access"}, {category: "web"}, {module: "apache"}, {module: "nginx"}, {module: "iis"}}
	case "proxy":
		return []lsClause{{category: "proxy"}, {module: "squid"}, {module: "proxy"}}
	case "dns":
		return []lsClause{{dataset: "zeek.dns"}, {dataset: "suricata.eve", extraField: "suricata.eve.event_type", extraValues: []string{"dns"}}, {category: "dns"}}
	case "firewall":
		return []lsClause{{category: "firewall"}, {module: "firewall"}}
	}
	if p == "" && c == "" && s == "" {
		return []lsClause{{any: true}}
	}
	var out []lsClause
	switch {
	case p != "" && s != "":
		out = append(out, lsClause{dataset: p + "." + s})
	case p != "" && c != "":
		out = append(out, lsClause{dataset: p + "." + c})
	case p != "":
		out = append(out, lsClause{module: p})
	case s != "":
		out = append(out, lsClause{dataset: s}, lsClause{module: s})
	default:
		out = append(out, lsClause{category: c})
	}
	return out
}

func intersectWindows(cats, svcs []lsClause) []lsClause {
	var out []lsClause
	for _, a := range cats {
		for _, b := range svcs {
			if a.channel == "" || a.channel == b.channel {
				x := a
				x.channel = b.channel
				out = append(out, x)
			}
		}
	}
	if len(out) == 0 {
		// Disjoint: the rule can never match; keep an impossible clause so
		// the rule still loads (it is valid Sigma) but is never routed.
		return nil
	}
	return out
}

// linuxSysmon maps Linux categories to Sysmon for Linux event ids.
var linuxSysmon = map[string][]int64{
	"process_termination": {5},
	"raw_access_read":     {9},
	"sysmon_status":       {4, 16},
	"file_delete":         {23},
}

var linuxServiceProcs = map[string][]string{
	"modsecurity":  {"modsecurity", "httpd", "apache2", "nginx"},
	"sshd":         {"sshd"},
	"sudo":         {"sudo"},
	"su":           {"su"},
	"cron":         {"cron", "crond", "anacron"},
	"vsftpd":       {"vsftpd"},
	"clamav":       {"clamd", "freshclam", "clamav"},
	"guacamole":    {"guacd", "guacamole"},
	"sshd-session": {"sshd-session"},
}

func linuxClauses(c, s string) []lsClause {
	auth := []string{"system.auth", "system.syslog"}
	switch {
	case c == "process_creation":
		return []lsClause{{windows: true, channel: "linux-sysmon/operational", eids: []int64{1}}, {dataset: "linux.process_creation"}}
	case c == "file_event":
		return []lsClause{{windows: true, channel: "linux-sysmon/operational", eids: []int64{11}}, {dataset: "linux.file_event"}}
	case c == "network_connection":
		return []lsClause{{windows: true, channel: "linux-sysmon/operational", eids: []int64{3}}, {dataset: "linux.network_connection"}}
	case linuxSysmon[c] != nil:
		return []lsClause{{windows: true, channel: "linux-sysmon/operational", eids: linuxSysmon[c]}, {dataset: "linux." + c}}
	case c != "":
		return []lsClause{{dataset: "linux." + c}}
	case s == "auditd":
		return []lsClause{{module: "auditd"}}
	case s == "auth":
		return []lsClause{{dataset: "system.auth"}}
	case s == "syslog" || s == "":
		return []lsClause{{module: "system"}}
	}
	procs, ok := linuxServiceProcs[s]
	if !ok {
		procs = []string{s}
	}
	var out []lsClause
	for _, d := range auth {
		out = append(out, lsClause{dataset: d, extraField: "process.name", extraValues: procs})
	}
	return out
}

// extraOK checks a clause's extra field condition.
func (cl *lsClause) extraOK(c *evalCtx) bool {
	if cl.extraField == "" {
		return true
	}
	v, ok := c.ev.Fields[cl.extraField].(string)
	if !ok {
		return false
	}
	for _, want := range cl.extraValues {
		if strings.EqualFold(v, want) {
			return true
		}
	}
	return false
}
