//go:build !no_format_auth

package all

import _ "github.com/rampart-ids/rampart/internal/format/auth" // auth format
