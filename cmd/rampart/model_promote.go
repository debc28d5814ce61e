package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-ids/rampart/internal/ml/robust"
	"github.com/rampart-ids/rampart/internal/modelreg"
)

// newModelPromoteCmd is `rampart model promote NAME --data DIR`.
func newModelPromoteCmd(open func() (*modelreg.Registry, error)) *cobra.Command {
	var (
		o      modelreg.PromoteOptions
		b      = robust.DefaultBounds()
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "promote NAME --data DIR [--challenger VERSION] [--max-recall-drop F] [--max-alert-growth F]",
		Short: "Make a challenger version active if it keeps recall on known-bad and stays within the alert budget",
		Long: "Scores the active version (champion) and a challenger (default: the newest other version) on " +
			"held-out labeled data in the kind's layout. The challenger becomes active only when its recall on " +
			"known-bad records has not fallen by more than --max-recall-drop and its alerts stay within " +
			"the champion's times (1 + --max-alert-growth). Every promotion and refusal is logged with its " +
			"numbers in <models>/" + modelreg.PromotionsFile + ".",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := open()
			if err != nil {
				return err
			}
			o.Now = time.Now().UTC().Truncate(time.Second)
			o.Bounds = &b
			o.Actor = actorName()
			d, err := reg.Promote(cmd.Context(), args[0], o)
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
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

// newModelRollbackCmd is `rampart model rollback NAME`.
func newModelRollbackCmd(open func() (*modelreg.Registry, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Re-activate the version the last promotion replaced",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := open()
			if err != nil {
				return err
			}
			d, err := reg.Rollback(args[0], time.Now().UTC().Truncate(time.Second), actorName())
			if err != nil {
				return err
			}
			printDecision(cmd, d, asJSON)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the decision as JSON")
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
