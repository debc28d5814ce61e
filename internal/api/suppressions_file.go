package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/suppress"
)

// maxSuppressionsFile bounds a suppressions file read by ReadSuppressions.
const maxSuppressionsFile = 16 << 20

// ReadSuppressions reads the body of GET /api/v1/suppressions
// ({"suppressions": [...]}, or the bare list) back into suppressions, so
// offline tools (rampart replay --suppressions) judge signals as serve
// does. Every entry is validated as the API validates a new one; errors
// name the entry (from 0). Entities pseudonymized for a viewer's eyes
// match nothing: export with an analyst or admin token.
func ReadSuppressions(r io.Reader) ([]suppress.Suppression, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSuppressionsFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSuppressionsFile {
		return nil, fmt.Errorf("suppressions: larger than %d bytes", maxSuppressionsFile)
	}
	var list []Suppression
	var wrapped struct {
		Suppressions *[]Suppression `json:"suppressions"`
	}
	if err := json.Unmarshal(data, &wrapped); err == nil && wrapped.Suppressions != nil {
		list = *wrapped.Suppressions
	} else if err := json.Unmarshal(data, &list); err != nil {
		return nil, errors.New(`suppressions: want {"suppressions": [...]} (the body of GET /api/v1/suppressions) or a JSON list of them`)
	}
	if len(list) > suppress.MaxActive {
		return nil, fmt.Errorf("suppressions: %d entries, at most %d", len(list), suppress.MaxActive)
	}
	out := make([]suppress.Suppression, 0, len(list))
	for i, w := range list {
		sp := suppress.Suppression{
			ID: w.ID, Detector: w.Detector, RuleID: w.RuleID, Reason: w.Reason, CreatedBy: w.CreatedBy,
			Created: w.CreatedAt, Expires: w.ExpiresAt, OriginAlert: w.OriginAlert,
			OriginVerdict: alert.VerdictKind(w.OriginVerdict),
		}
		for _, s := range w.Entities {
			e, err := suppress.ParseEntity(s)
			if err != nil {
				return nil, fmt.Errorf("suppressions[%d]: %w", i, err)
			}
			sp.Entities = append(sp.Entities, e)
		}
		if err := sp.Validate(); err != nil {
			return nil, fmt.Errorf("suppressions[%d] (%s): %w", i, w.ID, err)
		}
		out = append(out, sp)
	}
	return out, nil
}
