package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-ids/rampart/internal/sigma"
)

func newRulesCmd() *cobra.Command {
	rules := &cobra.Command{Use: "rules", Short: "Work with detection rules"}
	var asJSON bool
	check := &cobra.Command{
		Use:   "check [--json] PATH...",
		Short: "Load Sigma rules and report every failure with file and reason",
		Long: "Loads every rule document (detection, filter and correlation rules) under PATH.\n" +
			"A rule counts as loaded only if it compiled with every modifier and condition honoured.\n" +
			"Exit status 1 when any rule failed.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep := sigma.Check(args, sigma.Options{})
			type failure struct {
				Path  string `json:"path"`
				Error string `json:"error"`
			}
			out := struct {
				Loaded   int       `json:"loaded"`
				Failed   int       `json:"failed"`
				Failures []failure `json:"failures"`
			}{Loaded: rep.Loaded, Failed: rep.Failed, Failures: make([]failure, 0, len(rep.Failures))}
			for _, f := range rep.Failures {
				out.Failures = append(out.Failures, failure{f.Path, f.Error})
			}
			if asJSON {
				if err := json.NewEncoder(cmd.OutOrStdout()).Encode(out); err != nil {
					return err
				}
			} else {
				w := cmd.OutOrStdout()
				for _, f := range out.Failures {
					fmt.Fprintf(w, "FAIL %s: %s\n", f.Path, f.Error)
				}
				total := rep.Loaded + rep.Failed
				pct := 100.0
				if total > 0 {
					pct = 100 * float64(rep.Loaded) / float64(total)
				}
				fmt.Fprintf(w, "loaded %d of %d rule documents (%.2f%%), %d failed\n", rep.Loaded, total, pct, rep.Failed)
				if rep.Failed > 0 {
					reasons := map[string]int{}
					for _, f := range out.Failures {
						reasons[reasonClass(f.Error)]++
					}
					keys := make([]string, 0, len(reasons))
					for k := range reasons {
						keys = append(keys, k)
					}
					sort.Slice(keys, func(i, j int) bool { return reasons[keys[i]] > reasons[keys[j]] })
					fmt.Fprintln(w, "failures by reason:")
					for _, k := range keys {
						fmt.Fprintf(w, "  %5d  %s\n", reasons[k], k)
					}
				}
			}
			if rep.Failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	check.Flags().BoolVar(&asJSON, "json", false, `print {"loaded": N, "failed": M, "failures": [{"path", "error"}]}`)
	rules.AddCommand(check)
	return rules
}

// reasonClass shortens an error to its kind for the summary (text before the first quote or colon detail).
func reasonClass(e string) string {
	if i := strings.LastIndex(e, ": "); i >= 0 {
		e = e[i+2:]
	}
	if i := strings.IndexAny(e, "\"'"); i > 0 {
		e = e[:i]
	}
	if len(e) > 80 {
		e = e[:80]
	}
	return strings.TrimSpace(e)
}
