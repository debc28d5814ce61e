// Command rampart is Rampart's single binary: the server (`serve`), offline
// detection (`replay`, `explain`), rule checks and the evaluation harness.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	// time.zone and --tz must resolve on hosts without a zoneinfo database
	// (scratch or distroless containers running the static binary).
	_ "time/tzdata"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitError carries a process exit code without printing twice.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	// Offline commands print results on stdout; only warnings go to stderr.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := &cobra.Command{
		Use:           "rampart",
		Short:         "Rampart: layered, human-in-the-loop cyber defense",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	if p := os.Getenv("RAMPART_CPUPROFILE"); p != "" {
		// For profiling offline commands: RAMPART_CPUPROFILE=cpu.prof rampart replay …
		if f, err := os.Create(p); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	root.AddCommand(newServeCmd(), newReplayCmd(), newExplainCmd(), newRulesCmd(), newEvalCmd(), newTokenCmd())
	root.AddCommand(newAuditCmd())
	root.AddCommand(newModelCmd())
	err := root.ExecuteContext(ctx)
	stop()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "rampart:", err)
		os.Exit(1)
	}
}
