package console_test

import (
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/console"
)

func get(t *testing.T, path string) (int, string, map[string][]string) {
	t.Helper()
	rec := httptest.NewRecorder()
	console.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b), rec.Header()
}

func TestServesFilesWithCSP(t *testing.T) {
	for _, tc := range []struct{ path, ctype string }{
		{"/console/", "text/html"},
		{"/console/app.js", "javascript"},
		{"/console/app.css", "text/css"},
	} {
		code, _, hdr := get(t, tc.path)
		if code != 200 {
			t.Errorf("%s: %d", tc.path, code)
		}
		if ct := strings.Join(hdr["Content-Type"], ""); !strings.Contains(ct, tc.ctype) {
			t.Errorf("%s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
		}
		if got := strings.Join(hdr["Content-Security-Policy"], ""); got != console.CSP {
			t.Errorf("%s: CSP %q", tc.path, got)
		}
	}
	if code, _, _ := get(t, "/console/nope.js"); code != 404 {
		t.Errorf("unknown file: %d, want 404", code)
	}
}

// TestNoInlineCodeOrHTMLSinks keeps the console within its CSP (no inline
// script, style or event handler) and off the HTML sinks that would let an
// attacker-written event field become markup.
func TestNoInlineCodeOrHTMLSinks(t *testing.T) {
	_, html, _ := get(t, "/console/")
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<script(\s[^>]*)?>\s*[^<\s]`), // a script element with a body
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\sstyle\s*=`),
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)(?:src|href)\s*=\s*"(?:https?:)?//`), // no CDN
	} {
		if m := re.FindString(html); m != "" {
			t.Errorf("index.html: %q matches %s", m, re)
		}
	}
	for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, "src=") {
			t.Errorf("index.html: inline script %q", tag)
		}
	}
	_, js, _ := get(t, "/console/app.js")
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(js, sink) {
			t.Errorf("app.js uses %s", sink)
		}
	}
}

// TestLoginFormCannotLeakToken: the login form has no action, so a native
// submit (the script failed to load or to attach its handler) would GET
// the page with the token in the query string, into history and access
// logs. The token input therefore has no name (nothing is submitted) and
// the form posts.
func TestLoginFormCannotLeakToken(t *testing.T) {
	_, html, _ := get(t, "/console/")
	form := regexp.MustCompile(`(?is)<form[^>]*id="login-form"[^>]*>.*?</form>`).FindString(html)
	if form == "" {
		t.Fatal("no login form in index.html")
	}
	for _, in := range regexp.MustCompile(`(?i)<input[^>]*>`).FindAllString(form, -1) {
		if regexp.MustCompile(`(?i)\sname\s*=`).MatchString(in) {
			t.Errorf("login input %s has a name: a native submit would send it", in)
		}
	}
	if !regexp.MustCompile(`(?i)<form[^>]*\smethod="post"`).MatchString(form) {
		t.Error("login form does not use method=post: a native submit puts fields in the URL")
	}
}

// TestNoURLSinksFromData: every link the script builds is a literal
// in-page fragment ('#/...'), so no API value can become a javascript: or
// off-site URL, and the script never navigates off the page (no open
// redirect through the console).
func TestNoURLSinksFromData(t *testing.T) {
	_, js, _ := get(t, "/console/app.js")
	links := regexp.MustCompile(`href:\s*([^,}]+)`).FindAllStringSubmatch(js, -1)
	if len(links) == 0 {
		t.Fatal("found no links in app.js: the check would pass vacuously")
	}
	for _, m := range links {
		if !strings.HasPrefix(strings.TrimSpace(m[1]), "'#") {
			t.Errorf("link built from %q: want a literal '#...' fragment", m[1])
		}
	}
	for _, sink := range []string{"location.href", "location.assign", "location.replace", "window.open", "location =", ".src =", "srcdoc", "javascript:"} {
		if strings.Contains(js, sink) {
			t.Errorf("app.js uses %s", sink)
		}
	}
	if n := strings.Count(js, "setAttribute("); n != 2 {
		t.Errorf("setAttribute used %d times; want only el()'s href and data-* cases", n)
	}
}
