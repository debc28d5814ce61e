//go:build !no_format_windows

package all

import _ "github.com/rampart-ids/rampart/internal/format/windows" // windows JSON format
