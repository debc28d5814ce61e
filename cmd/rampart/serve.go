package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/rampart-ids/rampart/internal/app"
	"github.com/rampart-ids/rampart/internal/config"
)

func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

// readyMessage tells a person where the console and the API are, with the
// scheme the node really serves.
func readyMessage(cfg config.Config, addr string) string {
	base := "http://" + addr
	if cfg.HTTP.TLSCert != "" || cfg.HTTP.TLSSelfSigned {
		base = "https://" + addr
	}
	return fmt.Sprintf("Console: %s/console/ (log in with the token)\nAPI: %s/api/v1 (try: curl -H 'Authorization: Bearer <token>' %s/api/v1/alerts)\n", base, base, base)
}

func newServeCmd() *cobra.Command {
	var (
		cfgPath, dataDir, listen string
		demoMode, debug          bool
	)
	cmd := &cobra.Command{
		Use:   "serve [--config rampart.yaml] [--demo]",
		Short: "Run the HTTP API, syslog listener and file inputs with the detection stack",
		Long: "Runs a Rampart node. The config file is YAML, decoded strictly (unknown keys are errors).\n" +
			"--demo runs on the bundled starter rules with a generated demo stream.\n" +
			"On first start an admin API token is created and printed once.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if dataDir != "" {
				cfg.DataDir = dataDir
			}
			if listen != "" {
				cfg.HTTP.Listen = listen
			}
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			return app.Serve(cmd.Context(), cfg, app.ServeOptions{Demo: demoMode, Logger: log, Ready: func(addr string) {
				fmt.Fprint(os.Stderr, readyMessage(cfg, addr))
			}})
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "YAML config file (default: built-in defaults)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data folder (overrides the config)")
	cmd.Flags().StringVar(&listen, "listen", "", "API address host:port (overrides the config)")
	cmd.Flags().BoolVar(&demoMode, "demo", false, "bundled rules and a generated demo stream")
	cmd.Flags().BoolVar(&debug, "debug", false, "debug logging")
	return cmd
}

func newTokenCmd() *cobra.Command {
	tok := &cobra.Command{Use: "token", Short: "Manage API tokens (local, on the node's store)"}
	var cfgPath, dataDir, name, role string
	create := &cobra.Command{
		Use:   "create --name NAME --role viewer|analyst|responder|admin|ingest",
		Short: "Create an API token and print it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if dataDir != "" {
				cfg.DataDir = dataDir
			}
			secret, err := app.CreateToken(cmd.Context(), cfg, name, role)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			return nil
		},
	}
	create.Flags().StringVar(&cfgPath, "config", "", "YAML config file")
	create.Flags().StringVar(&dataDir, "data-dir", "", "data folder (overrides the config)")
	create.Flags().StringVar(&name, "name", "", "token name (unique)")
	create.Flags().StringVar(&role, "role", "viewer", "role")
	_ = create.MarkFlagRequired("name")
	tok.AddCommand(create)
	return tok
}
