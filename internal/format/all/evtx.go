//go:build !no_format_evtx

package all

import _ "github.com/rampart-ids/rampart/internal/format/evtx" // .evtx container (records parsed by windows)
