// Package anomaly wires Rampart's behavioural ML into the detection engine
// as two detector kinds (layer ml, scores in [0,1], every signal explained):
//
//   - "anomaly": per-entity baselines (internal/ml/baseline) for users,
//     hosts, source addresses and process executables: events, failures
//     (event.outcome) and distinct counterparts per window, scored by a
//     robust z-score whose threshold is set from a false-positive budget.
//   - "rarity": first-seen detectors with a per-entity learning period: a
//     new parent→child process pair on a host, a new source address (and
//     /24 or /64 network) for a user's successful logins, a new destination
//     port for a source address's connections.
//
// Both run on event time only, keep bounded state (caps below, least
// recently used evicted) and persist it with Snapshot/Restore. Events for
// which Options.ExcludeFromLearning returns true (tied to alerts, malicious
// verdicts, suppressed activity) are scored but never learned.
//
// Config keys (detect.Options.Config), all optional:
//
//	anomaly: window, learning (durations, "10m", "24h"); max_entities,
//	         min_history (ints); budget (alerts per entity-day), min_z,
//	         max_share, season_alpha (numbers); entities (list of
//	         user, host, ip, process).
//	rarity:  learning (duration); max_pairs, max_entities,
//	         max_values_per_entity, max_signals_per_entity_day (ints);
//	         rules (list of process_pair, login_source, dest_port).
package anomaly
