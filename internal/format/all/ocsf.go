//go:build !no_format_ocsf

package all

import _ "github.com/rampart-ids/rampart/internal/format/ocsf" // ocsf format
