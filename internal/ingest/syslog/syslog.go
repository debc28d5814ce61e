// Package syslog is a syslog server input: UDP (one datagram, one message)
// and TCP (octet-counted or newline-framed, detected per connection, RFC
// 6587). It does not parse messages: records carry Format "" so the format
// package decides between RFC 3164/5424 syslog and Linux auth, and Host is
// the peer's IP address.
//
// Every message is a record: an empty one (a UDP datagram or an
// octet-counted frame holding nothing but NULs and line breaks) is passed
// with Format ingest.FormatEmpty, so the pipeline quarantines it as
// "empty_message"; blank lines between newline-framed messages are framing.
//
// Limits: MaxMessage per message (longer ones are passed truncated with
// Format ingest.FormatOversize and counted in Stats().Truncated),
// MaxConnections concurrent TCP connections (more are closed at once),
// IdleTimeout per connection. Datagrams the kernel dropped because the
// receive buffer was full are read from /proc/net/udp and reported in
// Stats().Dropped.
//
// Record.Position is "<start>:<seq>", unique per server start, so that two
// identical messages are two events (syslog cannot be replayed; the
// sequence only keeps event ids distinct).
package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-ids/rampart/internal/ingest"
)

// Config configures a syslog server. Zero values get the defaults noted.
type Config struct {
	// Name is the input's name (default "syslog").
	Name string
	// UDP is the UDP listen address (e.g. ":514"); "" disables UDP.
	UDP string
	// TCP is the TCP listen address (e.g. ":601"); "" disables TCP.
	TCP string
	// MaxMessage bounds one message (default 64 KiB).
	MaxMessage int
	// MaxConnections bounds concurrent TCP connections (default 256).
	MaxConnections int
	// IdleTimeout closes a TCP connection that sends nothing for this long (default 5m).
	IdleTimeout time.Duration
	// ReadBufferBytes is the UDP socket receive buffer (SO_RCVBUF; default
	// 4 MiB, capped by the kernel's net.core.rmem_max).
	ReadBufferBytes int
	// BatchSize is the most records handed to the sink at once (default 256).
	BatchSize int
	// FlushInterval is the longest a record waits for its batch to fill (default 100ms).
	FlushInterval time.Duration
	// Now is the wall clock for Record.Received (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "syslog"
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = 64 << 10
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 256
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.ReadBufferBytes <= 0 {
		c.ReadBufferBytes = 4 << 20
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 256
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 100 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate checks the configuration without I/O.
func (c Config) Validate() error {
	if c.UDP == "" && c.TCP == "" {
		return errors.New("a udp or tcp listen address is required")
	}
	return nil
}

// Sources of the records.
const (
	SourceUDP = "syslog:udp"
	SourceTCP = "syslog:tcp"
)

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// Server is a syslog server. New binds its sockets; Run serves them until
// ctx is done and then closes them, so a Server runs once. It implements
// ingest.Input and ingest.StatsProvider.
type Server struct {
	cfg Config
	log *slog.Logger

	udp       *net.UDPConn
	udpInode  uint64
	baseDrops uint64
	tcp       *net.TCPListener

	boot string
	seq  atomic.Uint64

	records, bytes, truncated, rejected atomic.Uint64
	lastRead                            atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

var (
	_ ingest.Input         = (*Server)(nil)
	_ ingest.StatsProvider = (*Server)(nil)
)

// New binds the configured listeners.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuring syslog input %s: %w", cfg.Name, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, log: log.With("component", "ingest/syslog", "input", cfg.Name),
		boot:  strconv.FormatInt(cfg.Now().UnixNano(), 36),
		conns: map[net.Conn]struct{}{},
	}
	if cfg.UDP != "" {
		ua, err := net.ResolveUDPAddr("udp", cfg.UDP)
		if err != nil {
			return nil, fmt.Errorf("resolving syslog udp address %s: %w", cfg.UDP, err)
		}
		if s.udp, err = net.ListenUDP("udp", ua); err != nil {
			return nil, fmt.Errorf("listening on syslog udp %s: %w", cfg.UDP, err)
		}
		if err := s.udp.SetReadBuffer(cfg.ReadBufferBytes); err != nil {
			s.log.Warn("udp receive buffer not set", "err", err)
		}
		// The kernel caps SO_RCVBUF at net.core.rmem_max (and reports double
		// the usable size); say so when the buffer is smaller than asked.
		if got := recvBuffer(s.udp); got > 0 && got/2 < cfg.ReadBufferBytes {
			s.log.Info("udp receive buffer capped by kernel (raise net.core.rmem_max)",
				"requested", cfg.ReadBufferBytes, "effective", got/2)
		}
		s.udpInode = socketInode(s.udp)
		s.baseDrops, _ = udpDrops(s.udpInode)
	}
	if cfg.TCP != "" {
		ta, err := net.ResolveTCPAddr("tcp", cfg.TCP)
		if err == nil {
			s.tcp, err = net.ListenTCP("tcp", ta)
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("listening on syslog tcp %s: %w", cfg.TCP, err)
		}
	}
	return s, nil
}

// Name returns the input's name.
func (s *Server) Name() string { return s.cfg.Name }

// UDPAddr returns the bound UDP address, or nil if UDP is disabled.
func (s *Server) UDPAddr() *net.UDPAddr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr().(*net.UDPAddr)
}

// TCPAddr returns the bound TCP address, or nil if TCP is disabled.
func (s *Server) TCPAddr() *net.TCPAddr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr().(*net.TCPAddr)
}

// Stats returns the server's counters. Dropped counts UDP datagrams the
// kernel dropped since New; RejectedConnections is in Rejected.
func (s *Server) Stats() ingest.Stats {
	st := ingest.Stats{Records: s.records.Load(), Bytes: s.bytes.Load(), Truncated: s.truncated.Load()}
	if ns := s.lastRead.Load(); ns != 0 {
		st.LastRead = time.Unix(0, ns)
	}
	if n, ok := udpDrops(s.udpInode); ok && n >= s.baseDrops {
		st.Dropped = n - s.baseDrops
	}
	return st
}

// Rejected returns how many TCP connections were refused for MaxConnections.
func (s *Server) Rejected() uint64 { return s.rejected.Load() }

// Close closes the listeners and connections. Run calls it when ctx is done;
// call it directly only for a Server that is never Run.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.udp != nil {
		errs = append(errs, s.udp.Close())
	}
	if s.tcp != nil {
		errs = append(errs, s.tcp.Close())
	}
	for c := range s.conns {
		c.Close()
	}
	return errors.Join(errs...)
}

// Run serves until ctx is done (returns nil) or the sink fails (returns the error).
func (s *Server) Run(ctx context.Context, sink ingest.Sink) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	recs := make(chan ingest.Record, s.cfg.BatchSize*4)

	var readers sync.WaitGroup
	if s.udp != nil {
		readers.Go(func() { s.serveUDP(ctx, recs) })
	}
	if s.tcp != nil {
		readers.Go(func() { s.serveTCP(ctx, recs, &readers) })
	}
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	batcherDone := make(chan error, 1)
	go func() { batcherDone <- s.batch(ctx, recs, sink, cancel) }()

	readers.Wait()
	close(recs)
	return <-batcherDone
}

// batch hands records to the sink in batches; after ctx is done it flushes
// what is left with a short grace period.
func (s *Server) batch(ctx context.Context, recs <-chan ingest.Record, sink ingest.Sink, cancel context.CancelCauseFunc) error {
	buf := make([]ingest.Record, 0, s.cfg.BatchSize)
	ticker := time.NewTicker(s.cfg.FlushInterval)
	defer ticker.Stop()
	var failed error
	flush := func(ctx context.Context) {
		if len(buf) == 0 || failed != nil {
			buf = buf[:0]
			return
		}
		if err := sink.Submit(ctx, buf); err != nil && ctx.Err() == nil {
			failed = fmt.Errorf("submitting syslog records: %w", err)
			cancel(failed)
		}
		buf = make([]ingest.Record, 0, s.cfg.BatchSize)
	}
	for {
		select {
		case r, ok := <-recs:
			if !ok {
				gctx, gcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				flush(gctx)
				gcancel()
				return failed
			}
			buf = append(buf, r)
			if len(buf) >= s.cfg.BatchSize {
				flush(ctx)
			}
		case <-ticker.C:
			flush(ctx)
		}
	}
}

func (s *Server) record(source string, data []byte, oversize bool, peer net.IP, wire int) ingest.Record {
	now := s.cfg.Now()
	rec := ingest.Record{
		Source:   source,
		Position: s.boot + ":" + strconv.FormatUint(s.seq.Add(1), 10),
		Data:     append([]byte(nil), data...),
		Received: now,
		Host:     peer.String(),
	}
	if oversize {
		rec.Format = ingest.FormatOversize
		s.truncated.Add(1)
	}
	s.records.Add(1)
	s.bytes.Add(uint64(wire))
	s.lastRead.Store(now.UnixNano())
	return rec
}

// emptyRecord is a record for an empty message (quarantined by the
// pipeline as "empty_message"); data is what was received, NULs and all.
func (s *Server) emptyRecord(source string, data []byte, peer net.IP, wire int) ingest.Record {
	rec := s.record(source, data, false, peer, wire)
	rec.Format = ingest.FormatEmpty
	return rec
}

func send(ctx context.Context, out chan<- ingest.Record, r ingest.Record) bool {
	select {
	case out <- r:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) serveUDP(ctx context.Context, out chan<- ingest.Record) {
	buf := make([]byte, maxDatagram+1)
	for {
		n, addr, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("udp read failed", "err", err)
			continue
		}
		peer := net.IP(addr.Addr().Unmap().AsSlice())
		data := trimTrailer(buf[:n])
		if len(data) == 0 {
			// An empty or all-NUL datagram is still a message someone
			// sent: counted and quarantined, with its bytes, not dropped.
			if !send(ctx, out, s.emptyRecord(SourceUDP, buf[:min(n, s.cfg.MaxMessage)], peer, n)) {
				return
			}
			continue
		}
		over := len(data) > s.cfg.MaxMessage
		if over {
			data = data[:s.cfg.MaxMessage]
		}
		if !send(ctx, out, s.record(SourceUDP, data, over, peer, n)) {
			return
		}
	}
}

func (s *Server) serveTCP(ctx context.Context, out chan<- ingest.Record, wg *sync.WaitGroup) {
	for {
		c, err := s.tcp.AcceptTCP()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("tcp accept failed", "err", err)
			// Back off briefly on resource errors (EMFILE) instead of spinning.
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if !s.track(c) {
			continue
		}
		wg.Go(func() {
			defer s.untrack(c)
			s.serveConn(ctx, c, out)
		})
	}
}

// track registers a connection, refusing it when the limit is reached or
// the server is closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= s.cfg.MaxConnections {
		// Count before closing: the peer sees EOF at Close and may read the
		// counter at once.
		if !s.closed {
			s.rejected.Add(1)
			s.log.Debug("connection refused: limit reached", "peer", c.RemoteAddr().String())
		}
		c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *Server) serveConn(ctx context.Context, c *net.TCPConn, out chan<- ingest.Record) {
	peer := c.RemoteAddr().(*net.TCPAddr).IP
	fr := NewFrameReader(&idleReader{c: c, idle: s.cfg.IdleTimeout}, s.cfg.MaxMessage)
	for {
		f, err := fr.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.log.Info("syslog connection closed", "peer", peer.String(), "err", err)
			}
			return
		}
		rec := s.record(SourceTCP, f.Data, f.Oversize, peer, len(f.Data))
		if f.Empty {
			rec = s.emptyRecord(SourceTCP, f.Data, peer, len(f.Data))
		}
		if !send(ctx, out, rec) {
			return
		}
	}
}

// idleReader renews the read deadline before every read, so a connection
// is closed after IdleTimeout of silence.
type idleReader struct {
	c    net.Conn
	idle time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	if err := r.c.SetReadDeadline(time.Now().Add(r.idle)); err != nil {
		return 0, err
	}
	return r.c.Read(p)
}
