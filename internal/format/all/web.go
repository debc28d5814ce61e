//go:build !no_format_web

package all

import _ "github.com/rampart-ids/rampart/internal/format/web" // web access log format
