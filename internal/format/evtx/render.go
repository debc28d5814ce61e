package evtx

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// renderJSON writes the flat JSON layout of one Event element.
//
// System: Provider (Name), ProviderGuid, EventID (text; Qualifiers dropped), Version,
// Level, Task, Opcode, Keywords, TimeCreated (SystemTime), EventRecordID,
// ActivityID/RelatedActivityID (when set), ProcessID, ThreadID, Channel,
// Computer, UserID ("" when absent). Elements a record lacks are left out.
// An element with no text is null, as in the reference conversion.
func renderJSON(dst []byte, ev *elem, recID, written uint64) []byte {
	dst = append(dst, '{')
	first := true
	key := func(k string) {
		if !first {
			dst = append(dst, ", "...)
		}
		first = false
		dst = appendJSON(dst, k)
		dst = append(dst, ": "...)
	}
	sys := child(ev, "System")
	str := func(k string, v []byte) {
		key(k)
		dst = appendJSON(dst, v)
	}
	text := func(k string, e *elem) {
		key(k)
		dst = appendText(dst, e)
	}
	if sys != nil {
		// One pass over System's children (first of each name wins, as child does).
		var f [sysFields]*elem
		for k := sys.kid; k != nil; k = k.next {
			if i := sysField(k.name); i >= 0 && f[i] == nil {
				f[i] = k
			}
		}
		if p := f[fProvider]; p != nil {
			if v, ok := attrOf(p, "Name"); ok {
				str("Provider", v)
			}
			// Not in the reference layout, but part of the field contract
			// (winlog.provider_guid); the windows format reads ProviderGuid.
			if v, ok := attrOf(p, "Guid"); ok && len(v) > 0 {
				str("ProviderGuid", v)
			}
		}
		for i := fEventID; i <= fKeywords; i++ {
			if e := f[i]; e != nil {
				text(e.name, e)
			}
		}
		if e := f[fTimeCreated]; e != nil {
			if v, ok := attrOf(e, "SystemTime"); ok {
				str("TimeCreated", normTime(v))
			}
		}
		if e := f[fEventRecordID]; e != nil {
			text("EventRecordID", e)
		} else {
			str("EventRecordID", strconv.AppendUint(nil, recID, 10))
		}
		if e := f[fCorrelation]; e != nil {
			for _, n := range []string{"ActivityID", "RelatedActivityID"} {
				if v, ok := attrOf(e, n); ok && len(v) > 0 {
					str(n, v)
				}
			}
		}
		if e := f[fExecution]; e != nil {
			for _, n := range []string{"ProcessID", "ThreadID"} {
				if v, ok := attrOf(e, n); ok {
					str(n, v)
				}
			}
		}
		for i := fChannel; i <= fComputer; i++ {
			if e := f[i]; e != nil {
				text(e.name, e)
			}
		}
		var uid []byte
		if e := f[fSecurity]; e != nil {
			uid, _ = attrOf(e, "UserID")
		}
		str("UserID", uid)
	} else {
		str("EventRecordID", strconv.AppendUint(nil, recID, 10))
		str("TimeCreated", appendFiletime(nil, written))
	}
	if ed := child(ev, "EventData"); ed != nil {
		key("EventData")
		dst = appendEventData(dst, ed)
	}
	if ud := child(ev, "UserData"); ud != nil {
		key("UserData")
		dst = appendTree(dst, ud)
	}
	return append(dst, '}')
}

// System children the layout uses, in output order where it matters.
const (
	fProvider = iota
	fEventID
	fVersion
	fLevel
	fTask
	fOpcode
	fKeywords
	fTimeCreated
	fEventRecordID
	fCorrelation
	fExecution
	fChannel
	fComputer
	fSecurity
	sysFields
)

func sysField(name string) int {
	switch name {
	case "Provider":
		return fProvider
	case "EventID":
		return fEventID
	case "Version":
		return fVersion
	case "Level":
		return fLevel
	case "Task":
		return fTask
	case "Opcode":
		return fOpcode
	case "Keywords":
		return fKeywords
	case "TimeCreated":
		return fTimeCreated
	case "EventRecordID":
		return fEventRecordID
	case "Correlation":
		return fCorrelation
	case "Execution":
		return fExecution
	case "Channel":
		return fChannel
	case "Computer":
		return fComputer
	case "Security":
		return fSecurity
	}
	return -1
}

func child(e *elem, name string) *elem {
	for k := e.kid; k != nil; k = k.next {
		if k.name == name {
			return k
		}
	}
	return nil
}

func attrOf(e *elem, name string) ([]byte, bool) {
	for _, a := range e.attrs {
		if a.name == name {
			return a.value, true
		}
	}
	return nil, false
}

// appendText writes an element's text, or null when it has none.
func appendText(dst []byte, e *elem) []byte {
	if len(e.text) == 0 {
		return append(dst, "null"...)
	}
	return appendJSON(dst, e.text)
}

// appendEventData writes EventData: named Data items as keys (a repeated
// name keeps its first position and last value), then every unnamed item
// (Data without Name, Binary, …) in order under "_data".
func appendEventData(dst []byte, ed *elem) []byte {
	type item struct {
		name  []byte
		named bool
		dup   bool // a later item with a name seen before
		last  int  // for a first occurrence: index of the last item with its name
		e     *elem
	}
	var scratch [64]item
	items := scratch[:0]
	unnamed := 0
	for k := ed.kid; k != nil; k = k.next {
		name, ok := dataName(k)
		if !ok {
			unnamed++
		}
		items = append(items, item{name: name, named: ok, last: len(items), e: k})
	}
	markDuplicates(len(items), func(i int) ([]byte, bool) { return items[i].name, items[i].named },
		func(first, dup int) { items[dup].dup, items[first].last = true, dup })
	dst = append(dst, '{')
	n := 0
	for _, it := range items {
		if !it.named || it.dup {
			continue
		}
		if n > 0 {
			dst = append(dst, ", "...)
		}
		n++
		dst = appendJSON(dst, it.name)
		dst = append(dst, ": "...)
		dst = appendText(dst, items[it.last].e)
	}
	if unnamed > 0 {
		if n > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, `"_data": [`...)
		i := 0
		for _, it := range items {
			if it.named {
				continue
			}
			if i > 0 {
				dst = append(dst, ", "...)
			}
			i++
			dst = appendText(dst, it.e)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// markDuplicates calls seen(first, i) for every named item i whose name
// an earlier item (first) has, in order. It hashes into a small table on
// the stack; past 64 items it compares pairwise.
func markDuplicates(n int, name func(int) ([]byte, bool), seen func(first, dup int)) {
	if n > 64 {
		for i := range n {
			ni, ok := name(i)
			if !ok {
				continue
			}
			for j := range i {
				if nj, ok := name(j); ok && string(nj) == string(ni) {
					seen(j, i)
					break
				}
			}
		}
		return
	}
	var table [128]uint8 // item index + 1; 0 is empty
	for i := range n {
		ni, ok := name(i)
		if !ok {
			continue
		}
		h := uint32(2166136261)
		for _, c := range ni {
			h = (h ^ uint32(c)) * 16777619
		}
		for slot := h & 127; ; slot = (slot + 1) & 127 {
			j := int(table[slot]) - 1
			if j < 0 {
				table[slot] = uint8(i + 1)
				break
			}
			if nj, _ := name(j); string(nj) == string(ni) {
				seen(j, i)
				break
			}
		}
	}
}

// dataName is the Name of a <Data Name="…"> item.
func dataName(k *elem) ([]byte, bool) {
	if k.name != "Data" {
		return nil, false
	}
	return attrOf(k, "Name")
}

// appendTree writes an element with children as {name: value} (recursively;
// a repeated name keeps its first position and last value) and a leaf as
// its text or null. Attributes are not part of the reference layout; they
// are kept (as {attr: value}) only on elements without text, where they
// are the data (CAPI2, WMI, … put their payload in attributes).
func appendTree(dst []byte, e *elem) []byte {
	attrs := 0
	if len(e.text) == 0 {
		for _, a := range e.attrs {
			if !isXMLNS(a.name) {
				attrs++
			}
		}
	}
	if e.kid == nil && attrs == 0 {
		return appendText(dst, e)
	}
	dst = append(dst, '{')
	n := 0
	if attrs > 0 {
		for _, a := range e.attrs {
			if isXMLNS(a.name) {
				continue
			}
			if n > 0 {
				dst = append(dst, ", "...)
			}
			n++
			dst = appendJSON(dst, a.name)
			dst = append(dst, ": "...)
			dst = appendJSON(dst, a.value)
		}
	}
	for k := e.kid; k != nil; k = k.next {
		seen := false
		for p := e.kid; p != k; p = p.next {
			if p.name == k.name {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		last := k
		for q := k.next; q != nil; q = q.next {
			if q.name == k.name {
				last = q
			}
		}
		if n > 0 {
			dst = append(dst, ", "...)
		}
		n++
		dst = appendJSON(dst, k.name)
		dst = append(dst, ": "...)
		dst = appendTree(dst, last)
	}
	return append(dst, '}')
}

// appendJSON writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSON[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
			continue
		}
		// A conversion of at most 4 bytes does not allocate.
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexdigits[c>>4], hexdigits[c&0xf])
}

func isXMLNS(name string) bool {
	return name == "xmlns" || len(name) > 6 && name[:6] == "xmlns:"
}

// normTime rewrites a textual RFC 3339 SystemTime (records that tools
// converted from XML hold text, not a FILETIME) in the layout's form.
func normTime(v []byte) []byte {
	if len(v) < 20 || v[10] != 'T' {
		return v
	}
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return v
	}
	return appendPyTime(nil, t.UTC().Truncate(time.Microsecond))
}
