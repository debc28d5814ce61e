// Package console is the analyst web console: static HTML, CSS and plain
// JavaScript embedded in the binary (no build step, no CDN), served under
// /console/ by the API. It talks to the REST API with a session cookie
// (POST /api/v1/session) and renders every value with textContent, never
// as HTML: event fields are attacker-controlled.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// CSP is the console's Content-Security-Policy: scripts, styles and
// requests only from the console's own origin, so no inline script or
// style runs, and no framing.
const CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Handler serves the console's files for paths under /console/.
func Handler() http.Handler {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fsrv := http.StripPrefix("/console/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", CSP)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		fsrv.ServeHTTP(w, r)
	})
}
