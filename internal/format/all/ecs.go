//go:build !no_format_ecs

package all

import _ "github.com/rampart-ids/rampart/internal/format/ecs" // ecs format
