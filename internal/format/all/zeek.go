//go:build !no_format_zeek

package all

import _ "github.com/rampart-ids/rampart/internal/format/zeek" // zeek format
