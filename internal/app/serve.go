package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/config"
	"github.com/rampart-ids/rampart/internal/console"
	"github.com/rampart-ids/rampart/internal/demo"
	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/ingest/file"
	"github.com/rampart-ids/rampart/internal/ingest/httpin"
	"github.com/rampart-ids/rampart/internal/ingest/natsin"
	"github.com/rampart-ids/rampart/internal/ingest/silence"
	"github.com/rampart-ids/rampart/internal/ingest/syslog"
	"github.com/rampart-ids/rampart/internal/output"
	_ "github.com/rampart-ids/rampart/internal/output/file"
	_ "github.com/rampart-ids/rampart/internal/output/syslog"
	_ "github.com/rampart-ids/rampart/internal/output/webhook"
	"github.com/rampart-ids/rampart/internal/pipeline"
	sig "github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/postgres"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
	"github.com/rampart-ids/rampart/internal/tlsutil"
)

// ServeOptions are what `rampart serve` passes beyond the config file.
type ServeOptions struct {
	Demo bool
	// TokenOut receives the admin token shown once on first start (default stderr).
	TokenOut io.Writer
	Logger   *slog.Logger
	// Ready, if set, is called with the bound API address once serving.
	Ready func(apiAddr string)
}

// Server is a running Rampart node.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	store   store.Store
	engine  *detect.Engine
	pipe    *pipeline.Pipeline
	outputs []output.Output
	inputs  []ingest.Input
	silence *silence.Monitor
	// auditStore holds the hash chain; audit signs its checkpoints.
	auditStore audit.Store
	audit      *audit.Log
	httpSrv    *http.Server
	listener   net.Listener
	cleanup    func()
	reg        *prometheus.Registry
	reloadMu   sync.Mutex
	gov        governance // privacy layer and retention (governance.go)
	learnEx    *LearningExclusions
	supp       *Suppressions
	ckpt       *Checkpoints
	resume     map[string]store.Offset // the current checkpoint's file offsets
}

// Serve runs a node until ctx is done, then shuts down gracefully (flushing the pipeline).
func Serve(ctx context.Context, cfg config.Config, opts ServeOptions) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.TokenOut == nil {
		opts.TokenOut = os.Stderr
	}
	// Purposes apply with privacy disabled too, where config does not check them.
	if err := cfg.Privacy.Purposes.Validate(); err != nil {
		return fmt.Errorf("privacy.purposes: %w", err)
	}
	s := &Server{cfg: cfg, log: opts.Logger, reg: prometheus.NewRegistry(), cleanup: func() {}}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	defer s.cleanup()
	var err error
	if err = s.openStore(ctx); err != nil {
		return err
	}
	defer s.store.Close()
	s.audit, err = audit.OpenLog(s.auditStore, filepath.Join(cfg.DataDir, audit.KeyFileName), audit.Options{Logger: s.log})
	if err != nil {
		return fmt.Errorf("opening audit log: %w", err)
	}
	if err := s.ensureAdminToken(ctx, opts.TokenOut); err != nil {
		return err
	}
	if s.learnEx, err = LoadLearningExclusions(ctx, s.store, s.log); err != nil {
		return err
	}
	s.reg.MustRegister(s.learnEx.Collectors()...)
	if s.supp, err = LoadSuppressions(ctx, s.store, nil, s.log); err != nil {
		return err
	}
	s.reg.MustRegister(s.supp.Collectors()...)
	eng, cleanup, err := BuildEngine(ctx, RuleSet{
		Sigma: cfg.Rules.Sigma, Threshold: cfg.Rules.Threshold, IOC: cfg.Rules.IOC, MinLevel: cfg.Rules.MinLevel,
		Status: cfg.Rules.Status, Tags: cfg.Rules.Tags, Disabled: cfg.Rules.Disabled, Exceptions: cfg.Rules.Exceptions,
		IDS: cfg.Rules.IDS, Models: filepath.Join(cfg.DataDir, "models"), Exclusions: s.learnEx, Suppressions: s.supp, Purposes: cfg.Privacy.Purposes,
	})
	if err != nil {
		return err
	}
	s.engine, s.cleanup = eng, cleanup
	stateDir := filepath.Join(cfg.DataDir, "state")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("creating state dir: %w", err)
	}
	s.ckpt = NewCheckpoints(stateDir, eng, s.fileInputs, s.log)
	s.resume = s.ckpt.Restore()
	for i, oc := range cfg.Alerts.Outputs {
		node := s.outputPrivacy(oc.Node) // strips the "clear" key the output kinds do not know
		o, err := output.New(oc.Kind, &node, output.Deps{Logger: s.log})
		if err != nil {
			return cfg.OutputError(i, err)
		}
		s.outputs = append(s.outputs, o)
	}
	loc := time.UTC
	if cfg.Time.Zone != "" {
		loc, _ = time.LoadLocation(cfg.Time.Zone)
	}
	s.pipe, err = pipeline.New(pipeline.Options{
		Engine: eng, Store: s.supp.WrapStore(s.store), Notify: s.notify,
		Parse:     format.Options{Location: loc, Year: cfg.Time.Year},
		QueueSize: cfg.Pipeline.QueueSize, BatchSize: cfg.Pipeline.BatchSize, MaxRecordBytes: cfg.Pipeline.MaxRecordBytes,
		StoreAllEvents: cfg.Pipeline.StoreEvents != "evidence",
		ThrottleWindow: time.Duration(cfg.Alerts.Throttle), Registerer: s.reg, Logger: s.log,
		Checkpoint: s.ckpt, CheckpointEvery: time.Duration(cfg.Pipeline.CheckpointEvery),
	})
	if err != nil {
		return err
	}
	if err := s.buildInputs(); err != nil {
		return err
	}
	if err := s.buildRetention(); err != nil {
		return err
	}
	s.auditClearOutputs(ctx)
	s.registerInputMetrics()
	if err := s.listen(); err != nil {
		return err
	}
	if opts.Ready != nil {
		opts.Ready(s.listener.Addr().String())
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(s.inputs)+2)
	for _, in := range s.inputs {
		wg.Add(1)
		go func(in ingest.Input) {
			defer wg.Done()
			sink := withPurposes(in.Name(), cfg.Privacy.Purposes, s.pipe)
			if s.silence != nil {
				sink = s.silence.WrapSink(in.Name(), sink)
			}
			if err := in.Run(runCtx, sink); err != nil && runCtx.Err() == nil {
				errc <- fmt.Errorf("input %s: %w", in.Name(), err)
			}
		}(in)
	}
	if opts.Demo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = demo.New(uint64(time.Now().UnixNano()), nil).Run(runCtx, withPurposes("demo", cfg.Privacy.Purposes, s.pipe), 2*time.Second)
		}()
	}
	if s.silence != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.silence.Run(runCtx, 30*time.Second, func(x sig.Signal) {
				if err := s.pipe.Raise(runCtx, x); err != nil && runCtx.Err() == nil {
					s.log.Error("raising input health signal failed", "err", err)
				}
			})
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.housekeeping(runCtx) }()
	wg.Add(1)
	go func() { defer wg.Done(); s.supp.Run(runCtx, 30*time.Second) }()
	wg.Add(1)
	go func() { defer wg.Done(); s.audit.Run(runCtx, time.Minute) }()
	go func() {
		var err error
		if s.httpSrv.TLSConfig != nil {
			err = s.httpSrv.ServeTLS(s.listener, "", "")
		} else {
			err = s.httpSrv.Serve(s.listener)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	s.log.Info("rampart serving", "api", s.listener.Addr().String(), "demo", opts.Demo, "data_dir", cfg.DataDir)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		s.log.Error("stopping after failure", "err", runErr)
	}
	// Graceful shutdown: stop taking requests, stop inputs, drain and flush the pipeline.
	shutCtx, done := context.WithTimeout(context.Background(), 30*time.Second)
	defer done()
	_ = s.httpSrv.Shutdown(shutCtx)
	cancel()
	wg.Wait()
	if err := s.pipe.Close(shutCtx); err != nil {
		s.log.Error("pipeline flush incomplete", "err", err)
	}
	if err := s.supp.Flush(shutCtx); err != nil {
		s.log.Error("flushing suppression hits failed", "err", err)
	}
	s.closeGovernance(shutCtx)
	// File offsets were saved by the pipeline's last checkpoint, with the
	// state they match (none saved if it did not complete).
	for _, o := range s.outputs {
		if err := o.Close(); err != nil {
			s.log.Error("closing output failed", "output", o.Name(), "err", err)
		}
	}
	s.log.Info("rampart stopped")
	return runErr
}

func (s *Server) openStore(ctx context.Context) error {
	var err error
	switch s.cfg.Store.Driver {
	case "postgres":
		var pg *postgres.Store
		pg, err = postgres.Open(ctx, string(s.cfg.Store.DSN), postgres.Options{Logger: s.log, Audit: true})
		if err == nil {
			s.store, s.auditStore = pg, pg.Audit()
		}
	default:
		if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("creating data dir: %w", err)
		}
		var sq *sqlite.Store
		sq, err = sqlite.Open(ctx, s.cfg.DataDir, sqlite.Options{Logger: s.log, Audit: true})
		if err == nil {
			s.store, s.auditStore = sq, sq.Audit()
		}
	}
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	return nil
}

// ensureAdminToken creates an admin token on first start and shows it once.
func (s *Server) ensureAdminToken(ctx context.Context, out io.Writer) error {
	n, err := s.store.CountTokens(ctx)
	if err != nil {
		return fmt.Errorf("counting tokens: %w", err)
	}
	if n > 0 {
		return nil
	}
	secret, tok, err := api.NewToken("admin", api.RoleAdmin, time.Now())
	if err != nil {
		return err
	}
	if err := s.store.CreateToken(ctx, tok); err != nil {
		return fmt.Errorf("creating admin token: %w", err)
	}
	fmt.Fprintf(out, "\nAdmin API token (shown once; store it now):\n\n    %s\n\n", secret)
	return nil
}

func (s *Server) buildInputs() error {
	var expect []silence.Expectation
	// Files resume at the checkpoint's offsets, which match the restored
	// detector state, before the store's.
	var offsets store.OffsetStore = s.store
	if len(s.resume) > 0 {
		offsets = &resumeOffsets{OffsetStore: s.store, at: s.resume}
	}
	for _, fc := range s.cfg.Files {
		if fc.ExpectEvery > 0 {
			expect = append(expect, silence.Expectation{Name: "file:" + fc.Name, Every: time.Duration(fc.ExpectEvery)})
		}
		// Offsets are saved by the checkpoints, with the state they match.
		in, err := file.New(file.Config{
			Name: "file:" + fc.Name, Paths: fc.Paths, Format: fc.Format, MaxRecordBytes: s.cfg.Pipeline.MaxRecordBytes,
			SaveInterval: -1,
		}, offsets, s.log)
		if err != nil {
			return fmt.Errorf("file input %s: %w", fc.Name, err)
		}
		s.inputs = append(s.inputs, in)
	}
	for _, nc := range s.cfg.NATS {
		if nc.ExpectEvery > 0 {
			expect = append(expect, silence.Expectation{Name: "nats:" + nc.Name, Every: time.Duration(nc.ExpectEvery)})
		}
		in, err := natsin.New(natsin.Config{
			Name: "nats:" + nc.Name, URL: nc.URL, Token: string(nc.Token), CredsFile: nc.Creds, Stream: nc.Stream,
			Subject: nc.Subject, Durable: nc.Durable, Format: nc.Format, MaxRecordBytes: s.cfg.Pipeline.MaxRecordBytes,
			AckWait: time.Duration(nc.AckWait),
		}, s.log)
		if err != nil {
			return fmt.Errorf("nats input %s: %w", nc.Name, err)
		}
		s.inputs = append(s.inputs, in)
	}
	if s.cfg.Syslog.UDP != "" || s.cfg.Syslog.TCP != "" {
		srv, err := syslog.New(syslog.Config{
			UDP: s.cfg.Syslog.UDP, TCP: s.cfg.Syslog.TCP, MaxMessage: s.cfg.Syslog.MaxMessage,
			MaxConnections: s.cfg.Syslog.MaxConnections,
		}, s.log)
		if err != nil {
			return fmt.Errorf("syslog input: %w", err)
		}
		s.inputs = append(s.inputs, srv)
		if s.cfg.Syslog.ExpectEvery > 0 {
			expect = append(expect, silence.Expectation{Name: srv.Name(), Every: time.Duration(s.cfg.Syslog.ExpectEvery)})
		}
	}
	if len(expect) > 0 {
		s.silence = silence.NewMonitor(expect, time.Now)
	}
	return nil
}

func (s *Server) listen() error {
	ln, err := net.Listen("tcp", s.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.HTTP.Listen, err)
	}
	s.listener = ln
	ingestH := httpin.NewHandler(httpin.Config{
		MaxBodyBytes: s.cfg.HTTP.MaxBodyBytes, MaxRecords: s.cfg.HTTP.MaxBatch, MaxLineBytes: s.cfg.Pipeline.MaxRecordBytes,
	}, withPurposes("http", s.cfg.Privacy.Purposes, s.pipe))
	deps := api.Deps{
		Store: s.learnEx.WrapStore(s.supp.WrapStore(s.store)), Ingest: ingestH, Metrics: promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}),
		Reload: s.reload, PublicMetrics: s.cfg.HTTP.PublicMetrics, IngestRate: s.cfg.HTTP.IngestRate, Logger: s.log,
		Audit: s.audit, Console: console.Handler(),
	}
	if ss, ok := s.store.(store.SessionStore); ok {
		deps.Sessions = ss // console sessions survive a restart
	}
	if !s.cfg.Privacy.Disabled {
		p, err := s.pseudonymizer()
		if err != nil {
			return err
		}
		deps.ViewAlert, deps.ViewEvent = p.AlertFor, p.EventFor
		deps.Reidentify, deps.MayReidentify = api.PrivacyReidentify(p)
	}
	h := api.NewHandler(deps)
	s.httpSrv = &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.HTTP.TLSCert != "" || s.cfg.HTTP.TLSSelfSigned {
		host, _, _ := net.SplitHostPort(s.cfg.HTTP.Listen)
		tc, info, err := tlsutil.ServerConfig(tlsutil.Config{
			CertFile: s.cfg.HTTP.TLSCert, KeyFile: s.cfg.HTTP.TLSKey, DataDir: s.cfg.DataDir, Hosts: []string{host},
		})
		if err != nil {
			return fmt.Errorf("configuring TLS: %w", err)
		}
		s.httpSrv.TLSConfig = tc
		s.log.Info("serving HTTPS", "self_signed", info.SelfSigned, "sha256_fingerprint", info.Fingerprint, "not_after", info.NotAfter)
	}
	return nil
}

// registerInputMetrics exposes each input's own counters, among them the UDP
// datagrams the kernel dropped before Rampart could read them.
func (s *Server) registerInputMetrics() {
	for _, in := range s.inputs {
		sp, ok := in.(ingest.StatsProvider)
		if !ok {
			continue
		}
		labels := prometheus.Labels{"input": in.Name()}
		for _, m := range []struct {
			name, help string
			get        func(ingest.Stats) uint64
		}{
			{"rampart_input_records_total", "Records read by the input.", func(st ingest.Stats) uint64 { return st.Records }},
			{"rampart_input_dropped_total", "Records lost outside Rampart (UDP datagrams the kernel dropped).", func(st ingest.Stats) uint64 { return st.Dropped }},
			{"rampart_input_truncated_total", "Records over the size limit (quarantined).", func(st ingest.Stats) uint64 { return st.Truncated }},
		} {
			get := m.get
			c := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help, ConstLabels: labels},
				func() float64 { return float64(get(sp.Stats())) })
			if err := s.reg.Register(c); err != nil {
				s.log.Warn("input metrics not registered (duplicate input name?)", "input", in.Name(), "err", err)
			}
		}
	}
}

// reload rebuilds rules and indicator lists; ingestion never stops (each
// detector swaps its new state in atomically, or keeps the old on error).
func (s *Server) reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	err := Reload(ctx, s.engine)
	if err != nil {
		s.log.Error("rule reload failed; previous rules stay active", "err", err)
		return err
	}
	s.log.Info("rules reloaded")
	actor := audit.ActorFrom(ctx, "component:serve")
	if _, aerr := s.audit.Record(ctx, audit.RulesReloaded(actor, "rules", nil, "", "rules and indicator files reloaded")); aerr != nil {
		s.log.Error("auditing rule reload failed", "err", aerr)
	}
	return nil
}

func (s *Server) notify(ctx context.Context, alerts []alert.Alert) {
	var pseudo []alert.Alert // computed once, for the outputs that get pseudonyms
	for i, o := range s.outputs {
		if err := o.Send(ctx, s.outputAlerts(i, alerts, &pseudo)); err != nil {
			s.log.Error("alert output failed", "output", o.Name(), "err", err, "alerts", len(alerts))
		}
	}
}

// housekeeping runs retention and periodic/SIGHUP reloads.
func (s *Server) housekeeping(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	retention := time.NewTicker(time.Hour)
	defer retention.Stop()
	var reloadC <-chan time.Time
	if d := time.Duration(s.cfg.Rules.ReloadEvery); d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		reloadC = t.C
	}
	s.enforceRetention(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = s.reload(ctx)
		case <-reloadC:
			_ = s.reload(ctx)
		case <-retention.C:
			s.enforceRetention(ctx)
		}
	}
}

// fileInputs are the node's file inputs (whose offsets checkpoints keep).
func (s *Server) fileInputs() []*file.Input {
	var out []*file.Input
	for _, in := range s.inputs {
		if f, ok := in.(*file.Input); ok {
			out = append(out, f)
		}
	}
	return out
}
