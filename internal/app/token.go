package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/config"
)

// CreateToken creates an API token on the configured store and returns its secret.
func CreateToken(ctx context.Context, cfg config.Config, name, role string) (string, error) {
	s := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	if err := s.openStore(ctx); err != nil {
		return "", err
	}
	defer s.store.Close()
	secret, tok, err := api.NewToken(name, role, time.Now())
	if err != nil {
		return "", err
	}
	if err := s.store.CreateToken(ctx, tok); err != nil {
		return "", err
	}
	return secret, nil
}
