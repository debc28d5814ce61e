package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/app"
	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/suppress"
)

// ruleFlags are the rule-selection flags shared by replay and explain.
type ruleFlags struct {
	sigma, thresholds, ioc []string
	formatName             string
	zone                   string
	year                   int
}

func (rf *ruleFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&rf.sigma, "rules", nil, "Sigma rule file or folder (repeatable; default: bundled rules)")
	cmd.Flags().StringArrayVar(&rf.thresholds, "thresholds", nil, "threshold rule file or folder (repeatable; default: bundled)")
	cmd.Flags().StringArrayVar(&rf.ioc, "ioc", nil, "indicator file or folder: lists or STIX 2.1 bundles (repeatable; default: bundled)")
	cmd.Flags().StringVar(&rf.formatName, "format", "auto", "input format: auto or one of "+fmt.Sprint(format.Names()))
	cmd.Flags().StringVar(&rf.zone, "tz", "UTC", "time zone for timestamps without one (RFC 3164)")
	cmd.Flags().IntVar(&rf.year, "year", 0, "year for timestamps without one (default: inferred)")
}

func (rf *ruleFlags) engine(ctx context.Context) (*detect.Engine, func(), error) {
	return app.BuildEngine(ctx, app.RuleSet{Sigma: rf.sigma, Threshold: rf.thresholds, IOC: rf.ioc})
}

func (rf *ruleFlags) decoderOptions() (format.DecoderOptions, error) {
	loc, err := time.LoadLocation(rf.zone)
	if err != nil {
		return format.DecoderOptions{}, fmt.Errorf("--tz: %w", err)
	}
	if rf.formatName != "auto" && rf.formatName != "" {
		if _, ok := format.Lookup(rf.formatName); !ok {
			return format.DecoderOptions{}, fmt.Errorf("--format: unknown format %q (have %v)", rf.formatName, format.Names())
		}
	}
	return format.DecoderOptions{Format: rf.formatName, Parse: format.Options{Location: loc, Year: rf.year}}, nil
}

// eachInput opens every INPUT (files, folders walked recursively, "-" for stdin) in order.
func eachInput(args []string, fn func(name string, r io.Reader) error) error {
	for _, a := range args {
		if a == "-" {
			if err := fn("stdin", os.Stdin); err != nil {
				return err
			}
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return fmt.Errorf("opening input: %w", err)
		}
		var files []string
		if st.IsDir() {
			err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.Type().IsRegular() {
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("walking %s: %w", a, err)
			}
			sort.Strings(files)
		} else {
			files = []string{a}
		}
		for _, p := range files {
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("opening input: %w", err)
			}
			err = fn("file:"+p, f)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// replayBatch is the number of events handed from decoding to detection at
// once, and replayQueue the batches in flight between them. Few events in
// flight (about 2×128, under a megabyte of fields) keep an event's memory in
// cache between the core that fills it and the one that detects on it: with
// 8×256 in flight replay took about 8% more CPU on sshd logs.
const (
	replayBatch = 128
	replayQueue = 2
)

type replaySummary struct {
	events      int
	mu          sync.Mutex // quarantined is written by the decoding goroutine
	quarantined map[string]int
	signals     map[string]int
	suppressed  map[string]int // by suppression id and reason
	start       time.Time
}

func newReplayCmd() *cobra.Command {
	var rf ruleFlags
	var suppressions string
	cmd := &cobra.Command{
		Use:   "replay [--rules PATH]... [--format auto|NAME] [--suppressions FILE] INPUT...",
		Short: "Run the whole detection stack offline: files in, signals out (JSON lines)",
		Long: "Reads files, folders and stdin (-), runs every detection layer and prints one JSON line per signal.\n" +
			"A summary (events, events/s, signals by rule, quarantined by reason) goes to stderr.\n" +
			"--suppressions FILE (the body of GET /api/v1/suppressions) hides the signals those suppressions\n" +
			"would hide in serve, judged on the wall clock as serve does; the summary counts them per suppression.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := rf.decoderOptions()
			if err != nil {
				return err
			}
			var sup *suppress.Matcher
			if suppressions != "" {
				f, err := os.Open(suppressions)
				if err != nil {
					return err
				}
				ss, err := api.ReadSuppressions(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", suppressions, err)
				}
				sup = suppress.NewMatcher(ss)
			}
			tuneReplayGC()
			eng, cleanup, err := rf.engine(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			sum := &replaySummary{quarantined: map[string]int{}, signals: map[string]int{}, suppressed: map[string]int{}, start: time.Now()}
			// Signals are encoded in a goroutine of their own: detection is
			// the slower of decoding and detection, and encoding is a tenth
			// of its time. The writer takes them in emit order; a signal is
			// owned by its receiver, so handing it over is safe.
			wire := make(chan api.Signal, 1024)
			encDone := make(chan error, 1)
			go func() {
				pprof.SetGoroutineLabels(pprof.WithLabels(cmd.Context(), pprof.Labels("replay", "write")))
				out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
				enc := json.NewEncoder(out)
				var encErr error
				for s := range wire {
					if err := enc.Encode(s); err != nil && encErr == nil {
						encErr = err
					}
				}
				if err := out.Flush(); err != nil && encErr == nil {
					encErr = err
				}
				encDone <- encErr
			}()
			var curSource string
			emit := func(s signal.Signal) {
				if sup != nil {
					if x := sup.Match(&s, time.Now()); x != nil {
						sum.suppressed[x.ID+"\t"+x.Reason]++
						return
					}
				}
				sum.signals[s.RuleID+"\t"+s.Title]++
				wire <- api.SignalJSON(&s, curSource)
			}
			// Decoding runs in its own goroutine, detection in this one, so
			// replay uses two cores; batches keep the channel cheap.
			type batch struct {
				source string
				evs    []*event.Event
			}
			batches := make(chan batch, replayQueue)
			// Processed batches come back with their events, which the
			// decoder refills in place (Decoder.Next resets an event and
			// keeps its field map): no detector keeps an *Event past
			// Process, and signals are encoded as they are emitted.
			recycled := make(chan []*event.Event, cap(batches)+2)
			decErr := make(chan error, 1)
			ctx := cmd.Context()
			go func() {
				pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("replay", "decode")))
				defer close(batches)
				decErr <- eachInput(args, func(name string, r io.Reader) error {
					dec := format.NewDecoder(r, name, opts)
					cur := batch{source: name}
					var spare []*event.Event // events free for reuse
					for n := 0; ; n++ {
						if n%replayBatch == 0 { // a locked read: not per record
							if err := ctx.Err(); err != nil {
								return err
							}
						}
						if len(spare) == 0 {
							select {
							case spare = <-recycled:
							default:
								spare = append(spare, event.New())
							}
						}
						ev := spare[len(spare)-1]
						err := dec.Next(ev)
						if errors.Is(err, io.EOF) {
							if len(cur.evs) > 0 {
								batches <- cur
							}
							return nil
						}
						var re *format.RecordError
						if errors.As(err, &re) {
							sum.countQuarantined(re.Reason)
							continue // ev stays spare
						}
						if err != nil {
							return fmt.Errorf("reading %s: %w", name, err)
						}
						spare = spare[:len(spare)-1]
						cur.evs = append(cur.evs, ev)
						if len(cur.evs) == replayBatch {
							batches <- cur
							cur = batch{source: name, evs: make([]*event.Event, 0, replayBatch)}
						}
					}
				})
			}()
			// Labels split a profile (RAMPART_CPUPROFILE) by stage: detection
			// is the critical path on two cores, so its share is what counts.
			pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("replay", "detect")))
			for b := range batches {
				curSource = b.source
				for _, ev := range b.evs {
					sum.events++
					eng.Process(ctx, ev, emit)
				}
				select {
				case recycled <- b.evs:
				default: // the decoder has enough; let the GC take these
				}
			}
			err = <-decErr
			eng.Flush(cmd.Context(), emit)
			pprof.SetGoroutineLabels(ctx)
			close(wire)
			encErr := <-encDone
			printSummary(cmd.ErrOrStderr(), sum)
			if err != nil {
				return err
			}
			return encErr
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&suppressions, "suppressions", "", "suppressions to apply: the body of GET /api/v1/suppressions (export with an analyst or admin token)")
	return cmd
}

// tuneReplayGC trades memory for CPU in this batch command: replay's live
// heap is small (tens of MB) and its garbage rate high, so the default
// GOGC=100 spends a tenth of the CPU collecting. GOGC 400 with a 400 MiB
// soft limit keeps the peak well under half a gigabyte. GOGC and GOMEMLIMIT
// in the environment win.
func tuneReplayGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(400 << 20)
	}
}

func (s *replaySummary) countQuarantined(reason string) {
	s.mu.Lock()
	s.quarantined[reason]++
	s.mu.Unlock()
}

func printSummary(w io.Writer, s *replaySummary) {
	el := time.Since(s.start)
	rate := float64(s.events) / el.Seconds()
	total := 0
	for _, n := range s.signals {
		total += n
	}
	q := 0
	for _, n := range s.quarantined {
		q += n
	}
	fmt.Fprintf(w, "events: %d  quarantined: %d  signals: %d  elapsed: %s  events/s: %.0f\n", s.events, q, total, el.Round(time.Millisecond), rate)
	if len(s.signals) > 0 {
		fmt.Fprintln(w, "signals by rule:")
		for _, kv := range sortedCounts(s.signals) {
			fmt.Fprintf(w, "  %7d  %s\n", kv.n, kv.k)
		}
	}
	if len(s.suppressed) > 0 {
		fmt.Fprintln(w, "suppressed by suppression:")
		for _, kv := range sortedCounts(s.suppressed) {
			fmt.Fprintf(w, "  %7d  %s\n", kv.n, kv.k)
		}
	}
	if len(s.quarantined) > 0 {
		fmt.Fprintln(w, "quarantined by reason:")
		for _, kv := range sortedCounts(s.quarantined) {
			fmt.Fprintf(w, "  %7d  %s\n", kv.n, kv.k)
		}
	}
}

type kv struct {
	k string
	n int
}

func sortedCounts(m map[string]int) []kv {
	out := make([]kv, 0, len(m))
	for k, n := range m {
		out = append(out, kv{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].k < out[j].k
	})
	return out
}
