//go:build !no_format_syslog

package all

import _ "github.com/rampart-ids/rampart/internal/format/syslog" // syslog format
