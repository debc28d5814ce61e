package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/ml/robust"
	"github.com/rampart-ids/rampart/internal/modelreg"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// openDecisionAudit opens the audit log model decisions are recorded in:
// the node's (--config / --data-dir), by default that of the data folder
// holding the models folder (<data_dir>/models). A SQLite database is
// created when there is none yet: a decision is never left unaudited.
func openDecisionAudit(ctx context.Context, f *auditFlags, reg *modelreg.Registry) (*audit.Log, io.Closer, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, nil, err
	}
	if f.dataDir == "" && f.cfgPath == "" {
		cfg.DataDir = filepath.Dir(reg.Dir())
	}
	var st audit.Store
	var closer io.Closer
	if cfg.Store.Driver == "postgres" {
		if st, closer, err = openAuditStore(ctx, cfg); err != nil {
			return nil, nil, err
		}
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, nil, fmt.Errorf("opening the audit log: %w", err)
		}
		s, err := sqlite.Open(ctx, cfg.DataDir, sqlite.Options{ReadConns: 1})
		if err != nil {
			return nil, nil, err
		}
		st, closer = s.Audit(), s
	}
	keys, err := audit.OpenKeyRing(f.keyPath(cfg), time.Now())
	if err != nil {
		closer.Close()
		return nil, nil, err
	}
	return audit.New(st, keys, audit.Options{AnchorPath: f.anchorPath(cfg)}), closer, nil
}

// withDecisionAudit runs fn with reg recording decisions in the audit log,
// then signs the chain's head (the command is short-lived).
func withDecisionAudit(ctx context.Context, f *auditFlags, reg *modelreg.Registry, fn func() error) error {
	l, closer, err := openDecisionAudit(ctx, f, reg)
	if err != nil {
		return fmt.Errorf("model decisions are recorded in the audit log: %w", err)
	}
	defer closer.Close()
	reg.SetAuditor(l)
	ferr := fn()
	if _, err := l.Checkpoint(ctx); err != nil && ferr == nil {
		ferr = err
	}
	return ferr
}

// newModelPromoteCmd is `rampart model promote NAME --data DIR`.
func newModelPromoteCmd(open func() (*modelreg.Registry, error)) *cobra.Command {
	var (
		o      modelreg.PromoteOptions
		b      = robust.DefaultBounds()
		asJSON bool
		af     auditFlags
	)
	cmd := &cobra.Command{
		Use:   "promote NAME --data DIR [--challenger VERSION] [--max-recall-drop F] [--max-alert-growth F]",
		Short: "Make a challenger version active if it keeps recall on known-bad and stays within the alert budget",
		Long: "Scores the active version (champion) and a challenger (default: the newest other version) on " +
			"held-out labeled data in the kind's layout. The challenger becomes active only when its recall on " +
			"known-bad records has not fallen by more than --max-recall-drop and its alerts stay within " +
			"the champion's times (1 + --max-alert-growth). Every promotion and refusal is logged with its " +
			"numbers in <models>/" + modelreg.PromotionsFile + " and in the audit log (of --data-dir / --config; " +
			"default: the data folder holding the models folder), before it takes effect.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := open()
			if err != nil {
				return err
			}
			o.Now = time.Now().UTC().Truncate(time.Second)
			o.Bounds = &b
			o.Actor = actorName()
			var d robust.Decision
			err = withDecisionAudit(cmd.Context(), &af, reg, func() error {
				var err error
				d, err = reg.Promote(cmd.Context(), args[0], o)
				return err
			})
			if err != nil && !errors.Is(err, robust.ErrRefused) {
				return err
			}
			printDecision(cmd, d, asJSON)
			return err
		},
	}
	cmd.Flags().StringVar(&o.Data, "data", "", "held-out labeled data folder in the model kind's layout")
	cmd.Flags().StringVar(&o.Challenger, "challenger", "", "version to promote (default: newest version that is not active)")
	cmd.Flags().Float64Var(&b.MaxRecallDrop, "max-recall-drop", robust.DefaultMaxRecallDrop, "largest allowed fall in recall on known-bad (fraction)")
	cmd.Flags().Float64Var(&b.MaxAlertGrowth, "max-alert-growth", robust.DefaultMaxAlertGrowth, "alert budget: champion alerts times (1 + this)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the decision as JSON")
	af.register(cmd)
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

// newModelRollbackCmd is `rampart model rollback NAME`.
func newModelRollbackCmd(open func() (*modelreg.Registry, error)) *cobra.Command {
	var (
		asJSON bool
		af     auditFlags
	)
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Re-activate the version the last promotion replaced",
		Long:  "Re-activates the version the last promotion replaced; the rollback is recorded in <models>/" + modelreg.PromotionsFile + " and in the audit log, before it takes effect.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := open()
			if err != nil {
				return err
			}
			var d robust.Decision
			err = withDecisionAudit(cmd.Context(), &af, reg, func() error {
				var err error
				d, err = reg.Rollback(args[0], time.Now().UTC().Truncate(time.Second), actorName())
				return err
			})
			if err != nil {
				return err
			}
			printDecision(cmd, d, asJSON)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the decision as JSON")
	af.register(cmd)
	return cmd
}

func actorName() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

func printDecision(cmd *cobra.Command, d robust.Decision, asJSON bool) {
	w := cmd.OutOrStdout()
	if asJSON {
		b, _ := json.MarshalIndent(d, "", "  ")
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintf(w, "%s %s: active %s → %s\n", d.Action, d.Name, d.From, d.To)
	for _, s := range []struct {
		role string
		sc   *robust.Score
	}{{"champion", d.Champion}, {"challenger", d.Challenger}} {
		if s.sc != nil {
			fmt.Fprintf(w, "  %-10s %s  recall %.4f (%d/%d known-bad)  alerts %d/%d\n", s.role, s.sc.Version, s.sc.Recall, s.sc.Caught, s.sc.Bad, s.sc.Alerts, s.sc.N)
		}
	}
	fmt.Fprintf(w, "  %s\n", d.Reason)
}
