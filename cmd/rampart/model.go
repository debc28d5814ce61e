package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/rampart-ids/rampart/internal/app"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/modelreg"
	"github.com/rampart-ids/rampart/internal/privacy"
)

// newModelCmd is `rampart model train|list|inspect|promote|rollback|keys`:
// the on-disk model registry, every model signed with keys kept beside it.
func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Train, list and inspect ML models (hashed artifacts with lineage)",
	}
	var modelsDir, keysDir, cfgPath string
	cmd.PersistentFlags().StringVar(&modelsDir, "models", "", "models folder (default <data_dir>/models of the config)")
	cmd.PersistentFlags().StringVar(&keysDir, "keys", "", "model signing key folder (default <models>/../keys/models)")
	cmd.PersistentFlags().StringVar(&cfgPath, "config", "", "node config: its data_dir, and for train its privacy section (pseudonymization, purposes)")
	open := func() (*modelreg.Registry, error) {
		dir := modelsDir
		if dir == "" {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return nil, err
			}
			dir = modelreg.DefaultDir(cfg.DataDir)
		}
		return modelreg.OpenKeys(dir, keysDir)
	}
	cmd.AddCommand(newModelTrainCmd(open, &cfgPath), newModelListCmd(open), newModelInspectCmd(open), newModelPromoteCmd(open),
		newModelRollbackCmd(open), newModelKeysCmd(open))
	return cmd
}

func newModelTrainCmd(open func() (*modelreg.Registry, error), cfgPath *string) *cobra.Command {
	var (
		kind, data, name string
		seed             int64
		activate         bool
	)
	cmd := &cobra.Command{
		Use:   "train --kind payload|nsl-kdd|hdfs|loghub-templates --data DIR [--name N] [--seed S]",
		Short: "Train a model from a data folder in its eval suite's layout and store it",
		Long: "Trains a model and writes a hashed artifact with its lineage (sources, counts per class, " +
			"content hash, exclusions), held-out metrics and thresholds. The first version of a name becomes " +
			"active; later versions are stored beside it unless --activate is given.\n" +
			"With --config and privacy enabled there, personal data in the inputs (user and host names, e-mail " +
			"addresses, internal addresses) is pseudonymized with the node's keys before features are built, and " +
			"when privacy.purposes are declared only files whose purposes allow training are used; both are " +
			"recorded in the lineage.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := open()
			if err != nil {
				return err
			}
			if name == "" {
				name = kind
			}
			version, err := reg.NextVersion(name)
			if err != nil {
				return err
			}
			opts := modelreg.TrainOptions{Data: data, Name: name, Version: version, Seed: seed,
				Created: time.Now().UTC().Truncate(time.Second)}
			if *cfgPath != "" {
				cfg, err := loadConfig(*cfgPath)
				if err != nil {
					return err
				}
				var p *privacy.Pseudonymizer
				if !cfg.Privacy.Disabled {
					var maps *privacy.FileMappings
					if p, maps, err = app.OpenPrivacyBeside(cfg.DataDir, cfg.Privacy.Config, time.Now()); err != nil {
						return err
					}
					defer maps.Close()
					// The pseudonyms in the model stay re-identifiable (through the audited API).
					defer func() {
						if err := p.Flush(context.WithoutCancel(cmd.Context())); err != nil {
							fmt.Fprintf(cmd.ErrOrStderr(), "warning: pseudonym mappings not written: %v\n", err)
						}
					}()
				}
				opts.Privacy = app.TrainingPrivacy(p, cfg.Privacy.Purposes)
			}
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				opts.Progress = f
			}
			a, err := modelreg.Train(cmd.Context(), kind, opts)
			if err != nil {
				return err
			}
			path, active, err := reg.Save(a, activate)
			if err != nil {
				return err
			}
			state := "stored beside the active version (not active)"
			if active {
				state = "active"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "trained %s@%s (%s) → %s, %s\n", a.Body.Name, a.Body.Version, a.Body.Kind, path, state)
			fmt.Fprintf(cmd.OutOrStdout(), "signed (%s) with a key in %s\n", model.SigPath(path), reg.KeyDir())
			fmt.Fprintf(cmd.OutOrStdout(), "hash %s\nmetrics: %s\nthresholds: %s\n", a.Hash, fmtMetrics(a.Body.Metrics), fmtMetrics(a.Body.Thresholds))
			if *cfgPath != "" {
				return auditTraining(cmd, *cfgPath, a, active)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "model kind: "+strings.Join(modelreg.Kinds(), ", "))
	cmd.Flags().StringVar(&data, "data", "", "training data folder in the kind's eval-suite layout")
	cmd.Flags().StringVar(&name, "name", "", "model name (default: the kind)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed (one seed, one model)")
	cmd.Flags().BoolVar(&activate, "activate", false, "make the new version active even when one is")
	_ = cmd.MarkFlagRequired("kind")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

func newModelListCmd(open func() (*modelreg.Registry, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List stored models, each verified against its hash and signature",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := open()
			if err != nil {
				return err
			}
			es, err := reg.List()
			if err != nil {
				return err
			}
			if asJSON {
				if es == nil {
					es = []modelreg.Entry{}
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"dir": reg.Dir(), "models": es})
			}
			if len(es) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no models in %s\n", reg.Dir())
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tACTIVE\tKIND\tCREATED\tBYTES\tKEY\tHASH / ERROR")
			for _, e := range es {
				act, tail := "", e.Hash
				if e.Active {
					act = "*"
				}
				if e.Error != "" {
					tail = "REFUSED: " + e.Error
				}
				created := ""
				if !e.Created.IsZero() {
					created = e.Created.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Name, e.Version, act, e.Kind, created, e.Bytes, e.KeyID, tail)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// inspectView is what `model inspect --json` prints: the body without its
// (large) parameters.
type inspectView struct {
	Name       string             `json:"name"`
	Version    string             `json:"version"`
	Active     bool               `json:"active"`
	Kind       string             `json:"kind"`
	Hash       string             `json:"hash"`
	Created    time.Time          `json:"created,omitzero"`
	Features   []string           `json:"features"`
	Lineage    model.Lineage      `json:"lineage"`
	Metrics    map[string]float64 `json:"metrics"`
	Thresholds map[string]float64 `json:"thresholds"`
	ParamBytes int                `json:"param_bytes"`
}

func newModelInspectCmd(open func() (*modelreg.Registry, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect NAME[@VERSION] [--json]",
		Short: "Show a model's features, training window, counts, metrics, thresholds, hash and lineage",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := open()
			if err != nil {
				return err
			}
			name, version, err := modelreg.ParseRef(args[0])
			if err != nil {
				return err
			}
			a, err := reg.Load(name, version)
			if err != nil {
				return err
			}
			active, _ := reg.Active(name)
			b := a.Body
			v := inspectView{Name: b.Name, Version: b.Version, Active: active == b.Version, Kind: b.Kind, Hash: a.Hash,
				Created: b.Created, Features: b.Features, Lineage: b.Lineage, Metrics: b.Metrics, Thresholds: b.Thresholds,
				ParamBytes: len(b.Params)}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(v)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "model %s@%s (%s)", v.Name, v.Version, v.Kind)
			if v.Active {
				fmt.Fprint(w, ", active")
			}
			fmt.Fprintf(w, "\nhash: %s (verified)\nsignature: verified against %s\n", v.Hash, reg.KeyDir())
			if !v.Created.IsZero() {
				fmt.Fprintf(w, "created: %s\n", v.Created.Format(time.RFC3339))
			}
			l := v.Lineage
			window := "unknown (file data without event times)"
			if !l.From.IsZero() || !l.To.IsZero() {
				window = l.From.Format(time.RFC3339) + " – " + l.To.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "training window: %s\nseed: %d\ncontent hash: %s\n", window, l.Seed, l.ContentHash)
			fmt.Fprintln(w, "sources:")
			for _, s := range l.Sources {
				fmt.Fprintf(w, "  %s  %d rows  sha256:%s\n", s.Name, s.Rows, s.SHA256)
			}
			fmt.Fprintf(w, "counts: %s\n", kvInt(l.ClassCounts))
			for _, e := range l.Exclusions {
				fmt.Fprintf(w, "excluded: %d rows: %s\n", e.Rows, e.Reason)
			}
			if l.Privacy != "" {
				fmt.Fprintf(w, "privacy: %s\n", l.Privacy)
			}
			fmt.Fprintf(w, "metrics (held-out): %s\nthresholds: %s\n", fmtMetrics(v.Metrics), fmtMetrics(v.Thresholds))
			if len(v.Features) > 12 {
				fmt.Fprintf(w, "features (%d): %s, …\n", len(v.Features), strings.Join(v.Features[:12], ", "))
			} else {
				fmt.Fprintf(w, "features: %s\n", strings.Join(v.Features, "; "))
			}
			fmt.Fprintf(w, "parameters: %d bytes\n", v.ParamBytes)
			if n := len(b.InputGuard); n > 0 {
				fmt.Fprintf(w, "input guard: %d bytes, hashed and signed with the model\n", n)
			} else {
				fmt.Fprintln(w, "input guard: none (trained before the input guard; retrain to guard inputs)")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func fmtMetrics(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%.4g", k, m[k])
	}
	return strings.Join(parts, " ")
}

func kvInt(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// newModelKeysCmd is `rampart model keys list|rotate`: the ed25519 keys that
// sign models.
func newModelKeysCmd(open func() (*modelreg.Registry, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List or rotate the keys that sign models",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the model signing keys (the active one signs new models)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := open()
			if err != nil {
				return err
			}
			kr, err := reg.Keys()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "keys in %s\nKEY\tACTIVE\tPRIVATE\tCREATED\n", reg.KeyDir())
			for _, k := range kr.Keys() {
				act, priv := "", ""
				if k.Active {
					act = "*"
				}
				if k.Private {
					priv = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, act, priv, k.Created.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new active signing key; old public keys stay so older models still verify",
		Long: "Writes a new ed25519 key pair (private key 0600) and makes it the one new models are signed with. " +
			"Public keys of earlier keys are kept, so models they signed still load; delete a key's .pub file " +
			"to revoke every model it signed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := open()
			if err != nil {
				return err
			}
			id, err := reg.RotateKey()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "active model signing key is now %s (in %s)\n", id, reg.KeyDir())
			return nil
		},
	}
	cmd.AddCommand(list, rotate)
	return cmd
}

// auditTraining records a model trained for a node (--config) in that
// node's audit log: what was trained, on which content, with which privacy
// treatment and exclusions. A node without a database yet gets a note.
func auditTraining(cmd *cobra.Command, cfgPath string, a *model.Artifact, active bool) error {
	ctx := cmd.Context()
	f := auditFlags{cfgPath: cfgPath}
	l, closer, err := openAuditLog(ctx, &f)
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: training not recorded in an audit log: %v\n", err)
		return nil
	}
	defer closer.Close()
	b := a.Body
	expl := fmt.Sprintf("trained %s model %s@%s (active: %v) on %d source(s)", b.Kind, b.Name, b.Version, active, len(b.Lineage.Sources))
	for _, e := range b.Lineage.Exclusions {
		expl += fmt.Sprintf("; excluded %d rows: %s", e.Rows, e.Reason)
	}
	if b.Lineage.Privacy != "" {
		expl += "; privacy: " + b.Lineage.Privacy
	}
	digest, _ := strings.CutPrefix(b.Lineage.ContentHash, "sha256:")
	if len(digest) != 64 {
		digest = ""
	}
	rec := audit.Change(audit.WithActor(ctx, "user:"+currentUser()), audit.ActionModelTrained, "model", b.Name+"@"+b.Version, digest,
		map[string]string{"model": b.Name + "@" + b.Version, "artifact": a.Hash}, expl)
	if _, err := l.Record(ctx, rec); err != nil {
		return fmt.Errorf("model saved but its training not recorded in the audit log: %w", err)
	}
	return nil
}
