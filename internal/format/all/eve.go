//go:build !no_format_eve

package all

import _ "github.com/rampart-ids/rampart/internal/format/eve" // eve format
