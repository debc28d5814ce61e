package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/app"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/config"
	"github.com/rampart-ids/rampart/internal/store/postgres"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// auditFlags are the flags every audit subcommand shares.
type auditFlags struct {
	cfgPath, dataDir, keyFile, anchor string
}

func (f *auditFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.cfgPath, "config", "", "YAML config file (selects the store)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "data folder (overrides the config)")
	cmd.Flags().StringVar(&f.keyFile, "key-file", "", "audit key file (default: <data-dir>/"+audit.KeyFileName+")")
	cmd.Flags().StringVar(&f.anchor, "anchor", "", "anchor file with the newest checkpoint (default: "+audit.AnchorFileName+" beside the key file)")
}

func (f *auditFlags) config() (config.Config, error) {
	cfg, err := loadConfig(f.cfgPath)
	if err != nil {
		return cfg, err
	}
	if f.dataDir != "" {
		cfg.DataDir = f.dataDir
	}
	return cfg, nil
}

func (f *auditFlags) keyPath(cfg config.Config) string {
	if f.keyFile != "" {
		return f.keyFile
	}
	return filepath.Join(cfg.DataDir, audit.KeyFileName)
}

func (f *auditFlags) anchorPath(cfg config.Config) string {
	if f.anchor != "" {
		return f.anchor
	}
	return filepath.Join(filepath.Dir(f.keyPath(cfg)), audit.AnchorFileName)
}

// openAuditStore opens the node's store read for its audit chain. A
// missing SQLite database is an error rather than a new empty one.
func openAuditStore(ctx context.Context, cfg config.Config) (audit.Store, io.Closer, error) {
	switch cfg.Store.Driver {
	case "postgres":
		s, err := postgres.Open(ctx, string(cfg.Store.DSN), postgres.Options{MaxConns: 2})
		if err != nil {
			return nil, nil, err
		}
		return s.Audit(), s, nil
	default:
		if _, err := os.Stat(filepath.Join(cfg.DataDir, sqlite.FileName)); err != nil {
			return nil, nil, fmt.Errorf("no database in data dir %s: %w", cfg.DataDir, err)
		}
		s, err := sqlite.Open(ctx, cfg.DataDir, sqlite.Options{ReadConns: 1})
		if err != nil {
			return nil, nil, err
		}
		return s.Audit(), s, nil
	}
}

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and export the tamper-evident audit log",
		Long: "The audit log is a hash chain of every alert, verdict, token, rule, model, policy and action change,\n" +
			"with ed25519-signed checkpoints of its head. The signing key is kept in the data folder\n" +
			"(" + audit.KeyFileName + ", mode 0600), outside the database. Format: docs/formats/audit.md.",
	}
	cmd.AddCommand(newAuditVerifyCmd(), newAuditExportCmd(), newAuditCheckpointCmd(), newAuditRotateCmd(), newAuditPubkeyCmd())
	return cmd
}

func newAuditVerifyCmd() *cobra.Command {
	var (
		f                auditFlags
		file             string
		pubkeys          []string
		asJSON, noAnchor bool
		strict           bool
	)
	cmd := &cobra.Command{
		Use:   "verify [--data-dir D | --config F] [--json] | --file export.jsonl --pubkey keys.pub",
		Short: "Check the chain and its signatures; name the first bad record (exit 1 if broken)",
		Long: "Verifies the node's audit chain (hashes, links, sequence, signed checkpoints, the anchor file) or,\n" +
			"with --file, an export. Public keys come from --pubkey (a file from `rampart audit pubkey`) or from the key file.\n" +
			"An export may cover a time window: its first record is then taken as given and the checkpoints\n" +
			"after it vouch for the rest. Exit status: 0 verified, 1 broken or unreadable.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := f.config()
			if err != nil {
				return err
			}
			if len(pubkeys) == 0 {
				pubkeys = []string{f.keyPath(cfg)}
			}
			// Several nodes sharing one PostgreSQL chain each sign with their own key.
			keys := audit.PublicKeys{}
			for _, p := range pubkeys {
				k, err := audit.LoadPublicKeys(p)
				if err != nil {
					return err
				}
				for id, pub := range k {
					keys[id] = pub
				}
			}
			var src audit.Source
			opts := audit.VerifyOptions{}
			if file != "" {
				fh, err := os.Open(file)
				if err != nil {
					return fmt.Errorf("opening export: %w", err)
				}
				defer fh.Close()
				m, err := audit.ReadExport(fh)
				if err != nil {
					return err
				}
				src, opts.Partial = m, !strict
			} else {
				st, closer, err := openAuditStore(ctx, cfg)
				if err != nil {
					return err
				}
				defer closer.Close()
				src = st
				if !noAnchor {
					if opts.Anchor, err = audit.ReadAnchor(f.anchorPath(cfg)); err != nil {
						return err
					}
				}
			}
			rep, err := audit.Verify(ctx, src, keys, opts)
			if err != nil {
				return err
			}
			printReport(cmd.OutOrStdout(), rep, asJSON, opts)
			if !rep.OK {
				return exitError{code: 1}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&file, "file", "", "verify this export (JSON lines) instead of the store")
	cmd.Flags().StringSliceVar(&pubkeys, "pubkey", nil, "public key file; repeat for several nodes (default: the key file)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&strict, "strict", false, "with --file: the export must hold the whole retained chain (no time window)")
	cmd.Flags().BoolVar(&noAnchor, "no-anchor", false, "ignore the anchor file (e.g. verifying a restored backup)")
	return cmd
}

// reportJSON is the --json shape of a verification report: the API's, and
// what this verification was anchored to.
type reportJSON struct {
	api.AuditVerification
	Anchored bool `json:"anchored"`
	Partial  bool `json:"partial,omitempty"`
}

func printReport(w io.Writer, rep audit.Report, asJSON bool, opts audit.VerifyOptions) {
	if asJSON {
		out := reportJSON{AuditVerification: api.AuditVerificationJSON(rep), Anchored: opts.Anchor != nil, Partial: opts.Partial}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return
	}
	if !rep.OK {
		fmt.Fprintf(w, "audit chain BROKEN at seq %d: %s\n", rep.Problem.Seq, rep.Problem.Reason)
		return
	}
	if rep.Records == 0 {
		fmt.Fprintln(w, "audit chain OK: empty")
		return
	}
	fmt.Fprintf(w, "audit chain OK: %d records (seq %d..%d), %d checkpoints, signed through seq %d",
		rep.Records, rep.FirstSeq, rep.LastSeq, rep.Checkpoints, rep.SignedThrough)
	if rep.Unsigned > 0 {
		fmt.Fprintf(w, ", %d newer record(s) not yet signed", rep.Unsigned)
	}
	if !opts.Partial && opts.Anchor == nil {
		fmt.Fprint(w, " (no anchor file: truncation after the newest stored checkpoint is not detectable)")
	}
	fmt.Fprintln(w)
}

func newAuditExportCmd() *cobra.Command {
	var (
		f                         auditFlags
		since, until, out, reason string
		actor                     string
		clearText                 bool
	)
	cmd := &cobra.Command{
		Use:   "export [--since T] [--until T] [-o file.jsonl] [--clear --reason R]",
		Short: "Write audit records and checkpoints as JSON lines for auditors",
		Long: "Writes the records with since <= time < until (RFC 3339 or YYYY-MM-DD), continued to the next\n" +
			"checkpoint so a signature covers every record, with the checkpoints on their own lines.\n" +
			"When privacy is enabled in the config (the default), personal data in actors, subjects and\n" +
			"explanations is replaced by the node's pseudonyms; content hashes of such an export no longer\n" +
			"match, so it is for reading. --clear writes the records as stored, after recording the export\n" +
			"(actor and reason) in the audit log itself. Verify a clear export offline with:\n" +
			"rampart audit verify --file export.jsonl --pubkey keys.pub",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var opts audit.ExportOptions
			var err error
			if opts.Since, err = parseAuditTime(since); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if opts.Until, err = parseAuditTime(until); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			cfg, err := f.config()
			if err != nil {
				return err
			}
			pseudonymize := !cfg.Privacy.Disabled && !clearText
			if clearText && !cfg.Privacy.Disabled && len(reason) > 1024 {
				return errors.New("--reason: at most 1024 bytes")
			}
			var src audit.Source
			if clearText && !cfg.Privacy.Disabled {
				// A clear export of personal data is itself a recorded act:
				// recorded first, so an unrecorded clear export cannot happen.
				l, closer, err := openAuditLog(ctx, &f)
				if err != nil {
					return err
				}
				defer closer.Close()
				expl := fmt.Sprintf("clear (not pseudonymized) audit export, since %q until %q; reason: %s", since, until, reason)
				if _, err := l.Record(ctx, audit.Change(audit.WithActor(ctx, actor), ActionAuditExported, "audit_chain", "export", "", nil, expl)); err != nil {
					return fmt.Errorf("recording the clear export: %w", err)
				}
				src = l.Store()
			} else {
				st, closer, err := openAuditStore(ctx, cfg)
				if err != nil {
					return err
				}
				defer closer.Close()
				src = st
			}
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				fh, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("creating export file: %w", err)
				}
				defer fh.Close()
				w = fh
			}
			var n int64
			if pseudonymize {
				p, maps, err := app.OpenPrivacyBeside(cfg.DataDir, cfg.Privacy.Config, time.Now())
				if err != nil {
					return err
				}
				defer maps.Close()
				n, err = exportPseudonymized(ctx, src, w, opts, p)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d audit records, personal data pseudonymized (use --clear for a verifiable export)\n", n)
				return nil
			}
			if n, err = audit.Export(ctx, src, w, opts); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %d audit records\n", n)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&since, "since", "", "first record time (inclusive)")
	cmd.Flags().StringVar(&until, "until", "", "end time (exclusive)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().BoolVar(&clearText, "clear", false, "export personal data in clear (recorded in the audit log with --actor and --reason)")
	cmd.Flags().StringVar(&reason, "reason", "", "why a --clear export is needed (recorded)")
	cmd.Flags().StringVar(&actor, "actor", "user:"+currentUser(), "who exports (recorded for --clear)")
	return cmd
}

// ActionAuditExported is recorded before a clear audit export.
const ActionAuditExported = "audit_exported_clear"

func parseAuditTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is neither RFC 3339 nor YYYY-MM-DD", s)
}

// openAuditLog opens the store and the key ring (creating the key on first
// use) for the commands that sign.
func openAuditLog(ctx context.Context, f *auditFlags) (*audit.Log, io.Closer, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, nil, err
	}
	st, closer, err := openAuditStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	keys, err := audit.OpenKeyRing(f.keyPath(cfg), time.Now())
	if err != nil {
		closer.Close()
		return nil, nil, err
	}
	return audit.New(st, keys, audit.Options{AnchorPath: f.anchorPath(cfg)}), closer, nil
}

func newAuditCheckpointCmd() *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign the current head of the chain now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, closer, err := openAuditLog(cmd.Context(), &f)
			if err != nil {
				return err
			}
			defer closer.Close()
			c, err := l.Checkpoint(cmd.Context())
			if err != nil {
				return err
			}
			if c.Seq == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "audit chain is empty: nothing to sign")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed seq %d (%s) with key %s\n", c.Seq, c.Hash, c.KeyID)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newAuditRotateCmd() *cobra.Command {
	var (
		f     auditFlags
		actor string
	)
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Make a new signing key (old public keys stay for verification) and record it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, closer, err := openAuditLog(cmd.Context(), &f)
			if err != nil {
				return err
			}
			defer closer.Close()
			id, err := l.RotateKey(cmd.Context(), actor)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new audit signing key %s; export the public keys again for auditors (rampart audit pubkey)\n", id)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&actor, "actor", "user:"+currentUser(), "who rotates the key (recorded)")
	return cmd
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

func newAuditPubkeyCmd() *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "pubkey",
		Short: "Print the public keys (current and retired) for offline verification",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			keys, err := audit.LoadPublicKeys(f.keyPath(cfg))
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no audit key file at %s (it is made when the log is first signed)", f.keyPath(cfg))
			}
			if err != nil {
				return err
			}
			b, err := keys.MarshalJSON()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
