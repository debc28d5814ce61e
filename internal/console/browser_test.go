package console_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/console"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ml"
	"github.com/rampart-ids/rampart/internal/privacy"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

const chromiumPath = "/usr/bin/chromium"

// Seeded content. The title and an event field carry markup that must be
// shown as text: event fields are attacker-controlled.
const (
	alertID     = "ml-alert-1"
	alertTitle  = `Rare login hour <img src=x id=pwned-title>`
	explanation = "alice logged in at 03:00, 4.2 standard deviations from her usual hours"
	eventField  = `<script>document.body.dataset.pwned=1</script>`
)

// browser starts headless Chromium; the test is skipped without it.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: %s not found (apt-get install chromium)", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// Start the browser on the uncancelled context; later steps get a bound
	// so a broken page fails the test instead of hanging it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// step runs actions with a generous bound (a hang guard, not a timing assertion).
func step[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

type consoleEnv struct {
	srv     *httptest.Server
	st      *sqlite.Store
	secrets map[string]string
	priv    *privacy.Pseudonymizer // nil: everyone sees clear values
}

func newConsoleEnv(t *testing.T, withPrivacy bool) *consoleEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir, sqlite.Options{Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	lg, err := audit.OpenLog(st.Audit(), filepath.Join(dir, audit.KeyFileName), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &consoleEnv{st: st, secrets: map[string]string{}}
	for _, role := range []string{api.RoleViewer, api.RoleAnalyst} {
		secret, tok, err := api.NewToken(role+"-1", role, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		e.secrets[role] = secret
	}
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	ev := &event.Event{ID: "ev-1", Time: at, Received: at, Source: "file:/var/log/auth.log", Format: "auth",
		Fields: map[string]any{"user.name": "alice", "source.ip": "10.1.2.3", "message": eventField},
		Raw:    []byte("Nov 27 03:00:00 host sshd[1]: Accepted password for alice " + eventField)}
	if err := st.AppendEvents(ctx, []*event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	exp := ml.Explanation{Model: "baseline/login-hour", Score: 0.93, Sentence: explanation,
		Top: []ml.Contribution{{Feature: "hour_of_day", Value: 3, Baseline: 10.5, Weight: 0.81}}}
	sig := signal.Signal{ID: "sig-1", Detector: "anomaly", Layer: signal.LayerML, RuleID: "login_hour", RuleVersion: "1",
		Title: alertTitle, Level: signal.LevelMedium, Score: 0.93, Techniques: []string{"T1078"}, Tags: []string{"attack.initial_access"},
		Entities: []signal.Entity{{Kind: "user", Value: "alice"}}, Time: at, EventIDs: []string{ev.ID},
		Explanation: explanation, Details: exp.Fields()}
	if _, _, err := st.RecordSignals(ctx, []signal.Signal{sig}, []string{alertID}); err != nil {
		t.Fatal(err)
	}
	deps := api.Deps{Store: st, Audit: lg, Console: console.Handler()}
	if withPrivacy {
		// The privacy layer as serve wires it: roles below responder see pseudonyms.
		p, err := privacy.New(privacy.Config{InternalNetworks: []string{"10.0.0.0/8"},
			Deps: privacy.Deps{Mappings: privacy.NewMemoryMappings()}}, privacy.NewMemoryKeyStore(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		deps.ViewAlert, deps.ViewEvent, e.priv = p.AlertFor, p.EventFor, p
	}
	e.srv = httptest.NewServer(api.NewHandler(deps))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *consoleEnv) login(t *testing.T, ctx context.Context, role string) {
	t.Helper()
	step(t, ctx, "open the console", chromedp.Steps(
		chromedp.Navigate(e.srv.URL+"/"), // redirects to /console/
		chromedp.WaitVisible(chromedp.ID("login-token")),
		chromedp.SendKeys(chromedp.ID("login-token"), e.secrets[role]),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#alerts-table a.alert-link")),
	))
}

// TestConsoleInBrowser drives the console in headless Chromium: log in
// through the form, find the alert in the queue, read its explanation and
// evidence, mark it a false positive, and log out.
func TestConsoleInBrowser(t *testing.T) {
	e := newConsoleEnv(t, false)
	ctx := browser(t)
	e.login(t, ctx, api.RoleAnalyst)

	link := step(t, ctx, "queue row", chromedp.Text(chromedp.CSS("#alerts-table a.alert-link")))
	if link != alertTitle {
		t.Errorf("queue shows %q, want the title as text %q", link, alertTitle)
	}
	step(t, ctx, "open the alert", chromedp.Steps(
		chromedp.Click(chromedp.CSS("#alerts-table a.alert-link")),
		chromedp.WaitVisible(chromedp.ID("alert-explanation")),
		chromedp.WaitVisible(chromedp.CSS("#evidence .event")),
	))
	if got := step(t, ctx, "explanation", chromedp.Text(chromedp.ID("alert-explanation"))); got != explanation {
		t.Errorf("explanation %q, want %q", got, explanation)
	}
	if got := step(t, ctx, "features", chromedp.Text(chromedp.ID("alert-features"))); !strings.Contains(got, "hour_of_day") || !strings.Contains(got, "10.5") {
		t.Errorf("feature table %q lacks hour_of_day and its baseline", got)
	}
	if got := step(t, ctx, "facts", chromedp.Text(chromedp.ID("alert-detail"))); !strings.Contains(got, "T1078") || !strings.Contains(got, "user: alice") {
		t.Errorf("alert facts %q lack the ATT&CK id or the entity", got)
	}
	if got := step(t, ctx, "evidence", chromedp.Text(chromedp.ID("evidence"))); !strings.Contains(got, eventField) || !strings.Contains(got, "Accepted password") {
		t.Errorf("evidence %q lacks the event field and raw record as text", got)
	}
	// Markup in data stayed text: no element was made from it, no script ran.
	pwned := step(t, ctx, "markup check", chromedp.Evaluate[bool](
		`!!document.getElementById('pwned-title') || document.body.dataset.pwned === '1' || document.querySelectorAll('#evidence script, #alert-detail img').length > 0`))
	if pwned {
		t.Error("alert or event data was rendered as HTML")
	}

	step(t, ctx, "false positive", chromedp.Steps(
		chromedp.SendKeys(chromedp.ID("verdict-reason"), "backup job runs at 03:00"),
		chromedp.Click(chromedp.CSS(`#verdict-box button[data-verdict="false_positive"]`)),
	))
	step(t, ctx, "verdict shown", chromedp.Poll[bool](`document.getElementById('verdict-result').textContent.startsWith('Recorded')`))
	a, err := e.st.GetAlert(context.Background(), alertID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Verdict == nil || a.Verdict.Kind != alert.FalsePositive || a.Verdict.Reason != "backup job runs at 03:00" || a.Verdict.Author != "analyst-1" || a.Status != alert.StatusClosed {
		t.Errorf("stored alert status %s verdict %+v; want closed, false_positive by analyst-1 with the reason", a.Status, a.Verdict)
	}

	// Suppress similar: born from this alert and its verdict, listed with its scope.
	step(t, ctx, "suppress similar", chromedp.Steps(
		chromedp.SendKeys(chromedp.ID("suppress-reason"), "alice's backup job"),
		chromedp.Click(chromedp.ID("suppress-similar")),
	))
	step(t, ctx, "suppression shown", chromedp.Poll[bool](`document.getElementById('suppress-result').textContent.startsWith('Suppressed')`))
	sups, err := e.st.ListSuppressions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sups) != 1 || sups[0].Scope() != "detector=anomaly rule=login_hour user:alice" || sups[0].OriginAlert != alertID ||
		sups[0].OriginVerdict != alert.FalsePositive || sups[0].CreatedBy != "analyst-1" || sups[0].Reason != "alice's backup job" {
		t.Errorf("stored suppressions %+v", sups)
	}
	step(t, ctx, "suppressions list", chromedp.Steps(
		chromedp.Navigate(e.srv.URL+"/console/#/suppressions"),
		chromedp.WaitVisible(chromedp.CSS("#suppressions-table tbody tr")),
	))
	if got := step(t, ctx, "suppression row", chromedp.Text(chromedp.CSS("#suppressions-table tbody tr"))); !strings.Contains(got, "rule login_hour, user:alice") || !strings.Contains(got, "alice's backup job") {
		t.Errorf("suppression row %q lacks the scope or reason", got)
	}

	step(t, ctx, "log out", chromedp.Steps(
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login-token")),
	))
	status := step(t, ctx, "session after logout", chromedp.Evaluate[int](
		`fetch('/api/v1/alerts', {credentials: 'same-origin'}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if status != 401 {
		t.Errorf("API after logout: %d, want 401", status)
	}
}

// TestConsoleViewer: a viewer sees pseudonyms, no verdict buttons nor
// evidence, and the API refuses a verdict the page is made to send anyway.
func TestConsoleViewer(t *testing.T) {
	e := newConsoleEnv(t, true)
	ctx := browser(t)
	e.login(t, ctx, api.RoleViewer)
	step(t, ctx, "open the alert", chromedp.Steps(
		chromedp.Click(chromedp.CSS("#alerts-table a.alert-link")),
		chromedp.WaitVisible(chromedp.ID("alert-explanation")),
	))
	hidden := step(t, ctx, "verdict box", chromedp.Evaluate[bool](
		`document.getElementById('verdict-box').hidden && document.querySelectorAll('#evidence .event').length === 0`))
	if !hidden {
		t.Error("a viewer sees verdict buttons or evidence")
	}
	page := step(t, ctx, "page text", chromedp.Evaluate[string](`document.body.innerText`))
	if pseudo := e.priv.Value(privacy.KindUser, "alice"); strings.Contains(page, "alice") || !strings.Contains(page, pseudo) {
		t.Errorf("viewer page shows alice or lacks her pseudonym %s:\n%s", pseudo, page)
	}
	// Forge the call with a valid CSRF token: the role check still refuses it.
	status := step(t, ctx, "forced verdict", chromedp.Evaluate[int](`
		fetch('/api/v1/session', {credentials: 'same-origin'}).then(r => r.json()).then(s =>
			fetch('/api/v1/alerts/`+alertID+`/verdict', {method: 'POST', credentials: 'same-origin',
				headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf},
				body: JSON.stringify({verdict: 'false_positive', reason: 'forced'})}).then(r => r.status))`,
		chromedp.EvalAwaitPromise))
	if status != 403 {
		t.Errorf("forced verdict as viewer: %d, want 403", status)
	}
	if a, err := e.st.GetAlert(context.Background(), alertID); err != nil || a.Verdict != nil {
		t.Errorf("alert after forced verdict: %+v, %v; want no verdict", a.Verdict, err)
	}
}
