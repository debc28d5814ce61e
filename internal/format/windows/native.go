package windows

import "strings"

// Value normalisation. The same event reaches Rampart rendered by Windows
// itself (Winlogbeat, Event Viewer XML), by Rampart's .evtx reader, by
// python-evtx (the windows-evtx JSONL) or by the Rust evtx crate (the SigmaHQ
// regression_data JSON), and the renderers disagree on typed values. SigmaHQ
// rules are written against Windows' own rendering, so every layout is
// brought to it:
//
//   - HexInt32/HexInt64 values: lower case without zero padding, as Windows
//     renders them ("0x0000000000085527" → "0x85527", "0x001FFFFF" →
//     "0x1fffff"). Rules compare such fields exactly: LogonId: '0x3e7',
//     Status: '0x0', GrantedAccess: '0x1fffff'.
//   - GUID values of fields named *Guid (SubcategoryGuid, ProcessGuid,
//     LogonGuid, …): upper case in braces, as Windows renders win:GUID
//     ("0cce9210-69ae-…" → "{0CCE9210-69AE-…}"). Rules write
//     SubcategoryGuid: '{0CCE9210-69AE-11D9-BED3-505054503030}'. Bare GUIDs
//     in other fields are left alone: they are text (RPC Firewall's
//     InterfaceUuid is matched bare).
//
//   - Line ends: CR LF and lone CR become LF, as in Windows' XML rendering
//     read by any XML parser (XML 1.0 §2.11; Winlogbeat, python-evtx).
//     No rule value contains a CR; regex rules use \s, and
//     proc_creation_win_susp_lnk_exec_hidden_cmd looks for '\n\n\n\n\n\n'.
//
// Trailing whitespace is kept: Windows writes it in command lines and rules
// test for it (CommandLine|endswith: 'chcp ' and 'chcp  ', and the
// `endswith: ' '` filter of proc_creation_win_net_use_password_plaintext).
// A rendering that trimmed it upstream cannot be repaired here.

// maxHexDigits is the width of a HexInt64; longer 0x strings are text.
const maxHexDigits = 16

// nativeValue returns s as Windows renders a value of data item name.
func nativeValue(name, s string) string {
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return nativeHex(s)
	}
	if (len(s) == 36 || len(s) == 38) && isGUIDName(name) {
		return nativeGUID(s)
	}
	return s
}

// nativeHex renders "0x…" hex as Windows does; other text is returned as is.
func nativeHex(s string) string {
	d := s[2:]
	if len(d) > maxHexDigits+8 { // padding beyond a HexInt64 is not a HexInt rendering
		return s
	}
	plain := s[1] == 'x'
	for i := 0; i < len(d); i++ {
		c := d[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			plain = false
		default:
			return s
		}
	}
	i := 0
	for i < len(d)-1 && d[i] == '0' {
		i++
	}
	if len(d)-i > maxHexDigits {
		return s
	}
	if plain && i == 0 {
		return s // already native: no allocation
	}
	return "0x" + strings.ToLower(d[i:])
}

// nativeGUID renders a GUID as {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX};
// anything that is not a GUID is returned as is.
func nativeGUID(s string) string {
	g := s
	if len(g) != 36 && len(g) != 38 {
		return s
	}
	if len(g) == 38 {
		if g[0] != '{' || g[37] != '}' {
			return s
		}
		g = g[1:37]
	}
	native := len(s) == 38
	for i := 0; i < len(g); i++ {
		c := g[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return s
			}
			continue
		}
		switch {
		case '0' <= c && c <= '9', 'A' <= c && c <= 'F':
		case 'a' <= c && c <= 'f':
			native = false
		default:
			return s
		}
	}
	if native {
		return s
	}
	return "{" + strings.ToUpper(g) + "}"
}

// isGUIDName reports whether a data item name ends in "guid", any case.
func isGUIDName(name string) bool {
	n := len(name)
	return n >= 4 && strings.EqualFold(name[n-4:], "guid")
}

// systemGUIDs are the GUID-typed System fields.
var systemGUIDs = []string{"winlog.provider_guid", "winlog.activity_id", "winlog.related_activity_id"}
