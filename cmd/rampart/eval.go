package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/rampart-ids/rampart/internal/eval"
)

func newEvalCmd() *cobra.Command {
	var (
		suite, data string
		rules       []string
		asJSON      bool
		seed        int64
	)
	cmd := &cobra.Command{
		Use:   "eval --suite NAME --data DIR [--rules PATH]... [--json]",
		Short: "Score the detection stack on a labeled data folder",
		Long:  "Runs an evaluation suite. Suites: see --suite list.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if suite == "list" {
				for _, n := range eval.Names() {
					s, _ := eval.Lookup(n)
					fmt.Fprintf(cmd.OutOrStdout(), "%-18s %s\n", n, s.Summary)
				}
				return nil
			}
			s, err := eval.Lookup(suite)
			if err != nil {
				return err
			}
			if data == "" {
				return fmt.Errorf("--data DIR is required: the folder of the suite's data set (see --suite list)")
			}
			opts := eval.Options{Data: data, Rules: rules, Seed: seed}
			if term.IsTerminal(int(os.Stderr.Fd())) {
				opts.Progress = os.Stderr
			}
			res, err := s.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if asJSON {
				out := res.JSON()
				out["suite"] = s.Name
				enc := json.NewEncoder(cmd.OutOrStdout())
				return enc.Encode(out)
			}
			return res.Table(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&suite, "suite", "", "suite name (\"list\" lists them)")
	cmd.Flags().StringVar(&data, "data", "", "data folder in the suite's layout")
	cmd.Flags().StringArrayVar(&rules, "rules", nil, "rule file or folder (repeatable; default: the suite's)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed (results are deterministic for a seed)")
	_ = cmd.MarkFlagRequired("suite")
	return cmd
}
