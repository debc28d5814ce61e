package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/store"
)

// Console sessions: the console user pastes an API token once and gets a
// cookie naming a server-side session. Only the SHA-256 of the session id is
// kept, the token is looked up again on every request (deleting it ends its
// sessions), and cookie-authenticated unsafe requests need the session's
// CSRF token in X-CSRF-Token and, when the browser sends one, a same-host
// Origin. With a store.SessionStore (Deps.Sessions) sessions are written
// through to it, so a restart does not log anyone out; last use is written
// at most every sessionTouchEvery, so idle expiry after a restart may come
// that much early.

// SessionCookie is the console session cookie's name.
const SessionCookie = "rampart_session"

// Session limits.
const (
	SessionIdle     = 30 * time.Minute
	SessionAbsolute = 12 * time.Hour
	// maxSessions bounds the in-memory table; the least recently used
	// session is dropped to make room (a stored one is read back on use).
	maxSessions = 10000
	// sessionTouchEvery bounds how often a session's last use is stored.
	sessionTouchEvery = time.Minute
	// Login attempts per client (loginKey): a burst of loginBurst, then one
	// per loginEvery (5 a minute). Failures and successes both count.
	loginBurst = 5
	loginEvery = 12 * time.Second
	// maxLoginClients bounds the per-address limiter table.
	maxLoginClients = 10000
)

// Audit actions of console sessions.
const (
	ActionSessionLogin       = "session_login"
	ActionSessionLoginFailed = "session_login_failed"
	ActionSessionLogout      = "session_logout"
)

type session struct {
	tokenHash string // the token's stored hash, looked up again per request
	csrf      string
	created   time.Time
	lastSeen  time.Time
	stored    time.Time // lastSeen as last written to the store
}

type sessions struct {
	mu     sync.Mutex
	byHash map[string]*session // key: hex SHA-256 of the session id
	st     store.SessionStore  // nil: memory only

	loginMu sync.Mutex
	logins  keyLimits // key: loginKey of the client address
}

func newSessions(st store.SessionStore) *sessions {
	return &sessions{byHash: map[string]*session{}, logins: keyLimits{}, st: st}
}

func hashSessionID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func randomToken() (string, error) {
	b := make([]byte, 32) // 256 bits
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// create stores a new session for the token and returns its id and CSRF token.
func (ss *sessions) create(ctx context.Context, tokenHash string, now time.Time) (id string, sess session, err error) {
	if id, err = randomToken(); err != nil {
		return "", session{}, err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", session{}, err
	}
	sess = session{tokenHash: tokenHash, csrf: csrf, created: now, lastSeen: now, stored: now}
	if ss.st != nil {
		// Expired sessions go from the store as new ones come. A session's
		// stored last use lags its real one by up to sessionTouchEvery.
		if _, err := ss.st.DeleteSessionsBefore(ctx, now.Add(-SessionIdle-sessionTouchEvery), now.Add(-SessionAbsolute)); err != nil {
			return "", session{}, err
		}
		if err := ss.st.CreateSession(ctx, store.Session{IDHash: hashSessionID(id), TokenHash: tokenHash, CSRF: csrf,
			Created: now, LastSeen: now}); err != nil {
			return "", session{}, err
		}
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.byHash) >= maxSessions {
		ss.evictLocked(now)
	}
	s := sess
	ss.byHash[hashSessionID(id)] = &s
	return id, sess, nil
}

// evictLocked drops expired sessions and, if the table is still full, the
// least recently used one.
func (ss *sessions) evictLocked(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, s := range ss.byHash {
		if s.expired(now) {
			delete(ss.byHash, k)
			continue
		}
		if oldestKey == "" || s.lastSeen.Before(oldest) {
			oldestKey, oldest = k, s.lastSeen
		}
	}
	if len(ss.byHash) >= maxSessions && oldestKey != "" {
		delete(ss.byHash, oldestKey)
	}
}

func (s *session) expired(now time.Time) bool {
	return now.Sub(s.lastSeen) >= SessionIdle || now.Sub(s.created) >= SessionAbsolute
}

// get returns the live session for a cookie value and marks it used; an
// expired one is removed. A session not in memory is read from the store.
func (ss *sessions) get(ctx context.Context, id string, now time.Time) (key string, sess session, ok bool, err error) {
	if id == "" || len(id) > 128 {
		return "", session{}, false, nil
	}
	key = hashSessionID(id)
	ss.mu.Lock()
	s, ok := ss.byHash[key]
	ss.mu.Unlock()
	if !ok && ss.st != nil {
		x, err := ss.st.GetSession(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return "", session{}, false, nil
		}
		if err != nil {
			return "", session{}, false, err
		}
		s = &session{tokenHash: x.TokenHash, csrf: x.CSRF, created: x.Created, lastSeen: x.LastSeen, stored: x.LastSeen}
		ss.mu.Lock()
		if cur, dup := ss.byHash[key]; dup {
			s = cur // another request read it first
		} else {
			if len(ss.byHash) >= maxSessions {
				ss.evictLocked(now)
			}
			ss.byHash[key] = s
		}
		ss.mu.Unlock()
	}
	if s == nil {
		return "", session{}, false, nil
	}
	ss.mu.Lock()
	if s.expired(now) {
		delete(ss.byHash, key)
		ss.mu.Unlock()
		if ss.st != nil {
			if err := ss.st.DeleteSession(ctx, key); err != nil {
				return "", session{}, false, err
			}
		}
		return "", session{}, false, nil
	}
	s.lastSeen = now
	touch := ss.st != nil && now.Sub(s.stored) >= sessionTouchEvery
	if touch {
		s.stored = now
	}
	out := *s
	ss.mu.Unlock()
	if touch {
		if err := ss.st.TouchSession(ctx, key, now); err != nil {
			return "", session{}, false, err
		}
	}
	return key, out, true, nil
}

func (ss *sessions) remove(ctx context.Context, key string) error {
	ss.mu.Lock()
	delete(ss.byHash, key)
	ss.mu.Unlock()
	if ss.st != nil {
		return ss.st.DeleteSession(ctx, key)
	}
	return nil
}

// loginPolicy: loginBurst attempts, then one per loginEvery, per client.
var loginPolicy = limitPolicy{limit: rate.Every(loginEvery), burst: loginBurst, keys: maxLoginClients}

// allowLogin takes one login attempt from the client's budget (see
// keyLimits.allow).
func (ss *sessions) allowLogin(client string, now time.Time) (ok bool, wait time.Duration, first bool) {
	ss.loginMu.Lock()
	defer ss.loginMu.Unlock()
	return ss.logins.allow(loginPolicy, client, now)
}

// clientAddr is the peer address without the port. Proxies' forwarding
// headers are not trusted: a client could pick its own rate-limit key.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginKey is a client's login rate-limit key: an IPv6 client usually
// holds a whole /64, so its addresses share one budget; an IPv4 address
// seen through a dual-stack socket is that IPv4 address.
func loginKey(client string) string {
	ip, err := netip.ParseAddr(client)
	if err != nil {
		return client
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// sameOrigin reports whether the request's Origin header, when present,
// names the host the request was sent to.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false // includes "null" from sandboxed or privacy-sensitive contexts
	}
	return u.Host == r.Host
}

func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

type sessionKey struct{}

// sessionAuth authenticates a request by its session cookie. It returns the
// token and the session key, or writes the answer (401, 403 csrf) and
// returns ok false.
func (s *server) sessionAuth(w http.ResponseWriter, r *http.Request, cookie string) (tok store.Token, key string, ok bool) {
	now := s.d.Now()
	key, sess, found, err := s.sessions.get(r.Context(), cookie, now)
	if err != nil {
		s.internalError(w, "session lookup failed", err)
		return tok, "", false
	}
	if !found {
		clearSessionCookie(w, r)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "session expired or unknown; log in again")
		return tok, "", false
	}
	tok, err = s.d.Store.TokenByHash(r.Context(), sess.tokenHash)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.internalError(w, "token lookup failed", err)
			return tok, "", false
		}
		// The token was revoked: its sessions end with it.
		if err := s.sessions.remove(r.Context(), key); err != nil {
			s.log.Error("removing a revoked token's session failed", "err", err)
		}
		clearSessionCookie(w, r)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "the session's token was revoked")
		return tok, "", false
	}
	if unsafeMethod(r.Method) {
		got := r.Header.Get("X-CSRF-Token")
		if subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 || !sameOrigin(r) {
			s.log.Warn("request refused: CSRF check failed", "method", r.Method, "path", r.URL.Path, "client", clientAddr(r), "token_name", tok.Name)
			writeError(w, http.StatusForbidden, "csrf", "missing or wrong X-CSRF-Token, or a foreign Origin")
			return tok, "", false
		}
	}
	return tok, key, true
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil,
	})
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil,
	})
}

// login is POST /api/v1/session: {"token": "<api token secret>"}.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	now := s.d.Now()
	client := clientAddr(r)
	if ok, wait, first := s.sessions.allowLogin(loginKey(client), now); !ok {
		if first {
			s.log.Warn("console login rate limit reached", "client", client, "retry_after", wait)
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many login attempts; try again later")
		return
	}
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "csrf", "login from a foreign Origin")
		return
	}
	// A cross-site form (urlencoded, multipart, text/plain) needs no CORS
	// preflight and a text/plain one can carry valid JSON: from a browser
	// without Origin that is a login CSRF. Non-browser clients may omit the type.
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the login body must be application/json")
			return
		}
	}
	var body struct {
		Token string `json:"token"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	fail := func(reason string) {
		// Never the secret, not even a prefix of it.
		s.log.Warn("console login failed", "client", client, "reason", reason)
		s.auditLogin(r, audit.Record{Actor: "client:" + client, Action: ActionSessionLoginFailed,
			SubjectKind: "session", Explanation: "console login failed: " + reason})
	}
	if body.Token == "" || len(body.Token) > 256 {
		fail("malformed token")
		writeError(w, http.StatusUnauthorized, "unauthenticated", "invalid token")
		return
	}
	hash := HashToken(body.Token)
	tok, err := s.d.Store.TokenByHash(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		fail("unknown token")
		writeError(w, http.StatusUnauthorized, "unauthenticated", "invalid token")
		return
	}
	if err != nil {
		s.internalError(w, "token lookup failed", err)
		return
	}
	if tok.Role == RoleIngest {
		// Ingest tokens are machine credentials; the console is for people.
		fail("ingest token")
		writeError(w, http.StatusForbidden, "forbidden", "role ingest may not use the console")
		return
	}
	// A login from a browser that still holds a session replaces it.
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" && len(c.Value) <= 128 {
		if err := s.sessions.remove(r.Context(), hashSessionID(c.Value)); err != nil {
			s.internalError(w, "replacing the session failed", err)
			return
		}
	}
	id, sess, err := s.sessions.create(r.Context(), hash, now)
	if err != nil {
		s.internalError(w, "creating session failed", err)
		return
	}
	setSessionCookie(w, r, id)
	s.log.Info("console login", "client", client, "token_id", tok.ID, "name", tok.Name, "role", tok.Role)
	s.auditLogin(r, audit.Record{Actor: "token:" + tok.Name, Action: ActionSessionLogin, SubjectKind: "token",
		SubjectID: tok.ID, Explanation: "console login as " + tok.Name + " (" + tok.Role + ") from " + client})
	writeJSON(w, http.StatusOK, Session{Name: tok.Name, Role: tok.Role, CSRF: sess.csrf})
}

// auditLogin records a session event when the server has an audit log.
func (s *server) auditLogin(r *http.Request, rec audit.Record) {
	if s.d.Audit == nil {
		return
	}
	// Not cancelled with the request: a client that went away (and may
	// still read the answer) must not leave its login unrecorded.
	if _, err := s.d.Audit.Record(context.WithoutCancel(r.Context()), rec); err != nil {
		s.log.Error("auditing console session failed", "action", rec.Action, "err", err)
	}
}

// currentSession is GET /api/v1/session: the caller and, for a cookie
// session, its CSRF token (a reloaded console page reads it here).
func (s *server) currentSession(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	out := Session{Name: p.Name, Role: p.Role}
	if key, ok := r.Context().Value(sessionKey{}).(string); ok {
		s.sessions.mu.Lock()
		if sess, ok := s.sessions.byHash[key]; ok {
			out.CSRF = sess.csrf
		}
		s.sessions.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, out)
}

// logout is DELETE /api/v1/session.
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if key, ok := r.Context().Value(sessionKey{}).(string); ok {
		if err := s.sessions.remove(r.Context(), key); err != nil {
			s.internalError(w, "ending the session failed", err)
			return
		}
		p := principal(r)
		s.auditLogin(r, audit.Record{Actor: "token:" + p.Name, Action: ActionSessionLogout, SubjectKind: "token",
			SubjectID: p.TokenID, Explanation: "console logout"})
	}
	clearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}
