package anomaly

import (
	"time"

	"github.com/rampart-ids/rampart/internal/ml/baseline"
)

func baselineConfig(window, learning string) baseline.Config {
	w, _ := time.ParseDuration(window)
	l, _ := time.ParseDuration(learning)
	return baseline.Config{Window: w, Learning: l}
}
