package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/detect/threshold"
	"github.com/rampart-ids/rampart/internal/sigma"
)

func newRulesCmd() *cobra.Command {
	rules := &cobra.Command{Use: "rules", Short: "Work with detection rules"}
	var asJSON bool
	check := &cobra.Command{
		Use:   "check [--json] PATH...",
		Short: "Load Sigma and threshold rules and report every failure with file and reason",
		Long: "Loads every rule document (Sigma detection, filter and correlation rules; threshold rules) under PATH.\n" +
			"A rule counts as loaded only if it compiled with every modifier and condition honoured.\n" +
			"Files whose documents have capacity or leak_speed are threshold rules (docs/threshold-rules.md).\n" +
			"Exit status 1 when any rule failed.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep := checkRules(args)
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
					if f.Path != "" && strings.HasPrefix(f.Error, f.Path+":") {
						fmt.Fprintf(w, "FAIL %s\n", f.Error) // the error names its file and line already
					} else {
						fmt.Fprintf(w, "FAIL %s: %s\n", f.Path, f.Error)
					}
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

// checkRules checks Sigma files with the Sigma loader and threshold rule
// files with the threshold loader, so a rules folder (sigma/, threshold/)
// can be checked as a whole.
func checkRules(args []string) sigma.Report {
	files, err := sigma.RuleFiles(args)
	if err != nil {
		return sigma.Check(args, sigma.Options{}) // reports the unreadable path
	}
	var sigmaFiles, thrFiles []string
	for _, f := range files {
		if isThresholdFile(f) {
			thrFiles = append(thrFiles, f)
		} else {
			sigmaFiles = append(sigmaFiles, f)
		}
	}
	var rep sigma.Report
	if len(sigmaFiles) > 0 {
		rep = sigma.Check(sigmaFiles, sigma.Options{})
	}
	fail := func(path string, err error) {
		var re *threshold.RuleError
		if errors.As(err, &re) {
			path = re.Path
		}
		rep.Failed++
		rep.Failures = append(rep.Failures, sigma.Failure{Path: path, Error: err.Error()})
	}
	ok := true
	for _, f := range thrFiles {
		rules, err := threshold.LoadRules(f)
		if err != nil {
			fail(f, err)
			ok = false
			continue
		}
		rep.Loaded += len(rules)
	}
	if ok && len(thrFiles) > 1 {
		if _, err := threshold.LoadRules(thrFiles...); err != nil { // ids must be unique across files
			fail("", err)
		}
	}
	return rep
}

// isThresholdFile reports whether a YAML file's first rule document has a
// threshold rule's capacity or leak_speed key (Sigma rules have neither).
func isThresholdFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return false
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := m.Content[i].Value; k == "capacity" || k == "leak_speed" {
				return true
			}
		}
		return false
	}
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
