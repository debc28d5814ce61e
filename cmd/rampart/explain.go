package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/signal"
)

// explained is one record's explanation on the wire.
type explained struct {
	Parser      string         `json:"parser,omitempty"`
	Source      string         `json:"source"`
	Position    string         `json:"position,omitempty"`
	Event       map[string]any `json:"event,omitempty"`
	Signals     []api.Signal   `json:"signals"`
	Quarantined string         `json:"quarantined,omitempty"`
	Detail      string         `json:"detail,omitempty"`
	Raw         string         `json:"raw,omitempty"`
}

func newExplainCmd() *cobra.Command {
	var (
		rf     ruleFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "explain [--json] INPUT...",
		Short: "Show, per record, the parser that read it, the normalized event and the signals it raised",
		Long: "For each record: the parser, the normalized Event (ECS fields) and the signals it raised,\n" +
			"or why it was quarantined. What to run to see why something did or did not fire.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := rf.decoderOptions()
			if err != nil {
				return err
			}
			eng, cleanup, err := rf.engine(cmd.Context())
			if err != nil {
				return err
			}
			defer cleanup()
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			enc := json.NewEncoder(out)
			ev := event.New()
			return eachInput(args, func(name string, r io.Reader) error {
				dec := format.NewDecoder(r, name, opts)
				for {
					err := dec.Next(ev)
					if errors.Is(err, io.EOF) {
						return nil
					}
					raw, pos := dec.Last()
					x := explained{Source: name, Position: pos, Signals: []api.Signal{}}
					var re *format.RecordError
					switch {
					case errors.As(err, &re):
						x.Quarantined, x.Detail, x.Raw = re.Reason, re.Detail, string(raw)
					case err != nil:
						return fmt.Errorf("reading %s: %w", name, err)
					default:
						x.Parser = dec.Format()
						x.Event = ev.Nested()
						if !ev.Time.IsZero() {
							x.Event["@timestamp"] = ev.Time.UTC()
						}
						eng.Process(cmd.Context(), ev, func(s signal.Signal) {
							x.Signals = append(x.Signals, api.SignalJSON(&s, name))
						})
					}
					if asJSON {
						if err := enc.Encode(x); err != nil {
							return err
						}
						continue
					}
					writeExplained(out, &x, ev)
				}
			})
		},
	}
	rf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per record")
	return cmd
}

func writeExplained(w io.Writer, x *explained, ev *event.Event) {
	fmt.Fprintf(w, "── %s %s\n", x.Source, x.Position)
	if x.Quarantined != "" {
		fmt.Fprintf(w, "   quarantined: %s", x.Quarantined)
		if x.Detail != "" {
			fmt.Fprintf(w, " (%s)", x.Detail)
		}
		fmt.Fprintf(w, "\n   raw: %.200q\n", x.Raw)
		return
	}
	fmt.Fprintf(w, "   parser: %s\n", x.Parser)
	if !ev.Time.IsZero() {
		fmt.Fprintf(w, "   @timestamp: %s\n", ev.Time.UTC().Format("2006-01-02T15:04:05.000000Z"))
	}
	keys := make([]string, 0, len(ev.Fields))
	for k := range ev.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := ev.Fields[k]
		s := event.ValueString(v)
		if l, ok := v.([]string); ok {
			s = "[" + strings.Join(l, ", ") + "]"
		}
		fmt.Fprintf(w, "   %-40s %.160s\n", k, s)
	}
	if len(x.Signals) == 0 {
		fmt.Fprintln(w, "   signals: none")
		return
	}
	for _, s := range x.Signals {
		fmt.Fprintf(w, "   signal: [%s] %s (%s %s)\n", s.Level, s.Title, s.Detector, s.RuleID)
		if s.Explanation != "" {
			fmt.Fprintf(w, "           %s\n", s.Explanation)
		}
	}
}
