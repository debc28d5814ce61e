package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
)

// Limits of ListAlerts (store.AlertQuery documents them).
const (
	defaultListLimit = 50
	maxListLimit     = 1000
)

const alertCols = `a.id, a.detector, a.layer, a.rule_id, a.rule_version, a.title, a.level, a.score,
	a.tags, a.techniques, a.entities, a.entity_key, a.first_seen, a.last_seen, a.count, a.event_ids,
	a.explanation, a.details, a.status, a.created,
	a.verdict_kind, a.verdict_reason, a.verdict_author, a.verdict_time`

// entityJSON gives entities stable lower-case keys in the stored JSON.
type entityJSON struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

type scanner interface{ Scan(dest ...any) error }

func scanAlert(sc scanner) (alert.Alert, error) {
	var (
		a                                 alert.Alert
		tags, techs, ents, evids, details string
		first, last, created              int64
		vKind, vReason, vAuthor           sql.NullString
		vTime                             sql.NullInt64
		level, layer, status              string
	)
	err := sc.Scan(&a.ID, &a.Detector, &layer, &a.RuleID, &a.RuleVersion, &a.Title, &level, &a.Score,
		&tags, &techs, &ents, &a.EntityKey, &first, &last, &a.Count, &evids,
		&a.Explanation, &details, &status, &created, &vKind, &vReason, &vAuthor, &vTime)
	if err != nil {
		return a, err
	}
	a.Layer, a.Level, a.Status = signal.Layer(layer), signal.Level(level), alert.Status(status)
	a.FirstSeen, a.LastSeen, a.Created = fromMicros(first), fromMicros(last), fromMicros(created)
	var es []entityJSON
	for _, f := range []struct {
		src string
		dst any
	}{{tags, &a.Tags}, {techs, &a.Techniques}, {ents, &es}, {evids, &a.EventIDs}, {details, &a.Details}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return a, fmt.Errorf("alert %s: decoding stored json: %w", a.ID, err)
		}
	}
	if es != nil {
		a.Entities = make([]signal.Entity, len(es))
		for i, e := range es {
			a.Entities[i] = signal.Entity{Kind: e.Kind, Value: e.Value}
		}
	}
	if vKind.Valid {
		a.Verdict = &alert.Verdict{AlertID: a.ID, Kind: alert.VerdictKind(vKind.String),
			Reason: vReason.String, Author: vAuthor.String, Time: fromMicros(vTime.Int64)}
	}
	return a, nil
}

func marshalLists(a *alert.Alert) (tags, techs, ents, evids, details string, err error) {
	es := make([]entityJSON, len(a.Entities))
	for i, e := range a.Entities {
		es[i] = entityJSON(e)
	}
	if a.Entities == nil {
		es = nil
	}
	out := make([]string, 5)
	for i, v := range []any{a.Tags, a.Techniques, es, a.EventIDs, a.Details} {
		b, err := json.Marshal(v)
		if err != nil {
			return "", "", "", "", "", fmt.Errorf("alert %s: encoding json: %w", a.ID, err)
		}
		out[i] = string(b)
	}
	return out[0], out[1], out[2], out[3], out[4], nil
}

// RecordSignals folds signals into alerts in one write transaction; see
// store.AlertStore for the semantics. Each alert of the batch is read once,
// its new signal ids found by inserting them, and written once.
func (s *Store) RecordSignals(ctx context.Context, sigs []signal.Signal, alertIDs []string) ([]alert.Alert, []bool, error) {
	if err := store.CheckSignals(sigs, alertIDs); err != nil {
		return nil, nil, fmt.Errorf("recording signals: %w", err)
	}
	out := make([]alert.Alert, len(sigs))
	created := make([]bool, len(sigs))
	if len(sigs) == 0 {
		return out, created, nil
	}
	clean := make([]signal.Signal, len(sigs))
	for i := range sigs {
		clean[i] = store.CleanSignal(sigs[i])
	}
	groups := store.GroupSignals(alertIDs)
	now := s.now()
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, g := range groups {
			if err := s.recordGroup(ctx, tx, clean, g, now, out, created); err != nil {
				return err
			}
		}
		return s.auditAlerts(ctx, tx, clean, out, created)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("recording %d signals: %w", len(sigs), err)
	}
	return out, created, nil
}

// Statements of the write path, prepared once on the writer connection
// (see Store.stmt): re-parsing them per call was most of RecordSignals' CPU.
const (
	qSelectAlert = `SELECT ` + alertCols + ` FROM alerts a WHERE a.id = ?`
	qInsertAlert = `INSERT INTO alerts (id, detector, layer, rule_id, rule_version,
		title, level, level_rank, score, tags, techniques, entities, entity_key, first_seen, last_seen,
		count, event_ids, explanation, details, status, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertEntity   = `INSERT INTO alert_entities (alert_id, kind, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	qInsertSignal   = `INSERT INTO alert_signals (alert_id, signal_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qInsertEvidence = `INSERT INTO alert_events (alert_id, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qUpdateFolded   = `UPDATE alerts SET count = ?, first_seen = ?, last_seen = ?, event_ids = ? WHERE id = ?`
)

func (s *Store) recordGroup(ctx context.Context, tx *sql.Tx, sigs []signal.Signal, g store.SignalGroup, now time.Time, out []alert.Alert, created []bool) error {
	st := func(q string) *sql.Stmt { return s.stmt(ctx, tx, q) }
	// The single writer serializes transactions, so what is read here stays
	// current until commit.
	var a *alert.Alert
	got, err := scanAlert(st(qSelectAlert).QueryRowContext(ctx, g.AlertID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	default:
		a = &got
	}
	creator := -1
	if a == nil {
		creator = g.Inputs[0]
		na := store.NewAlert(g.AlertID, &sigs[creator], now)
		if err := insertAlert(ctx, st, &na); err != nil {
			return err
		}
		a = &na
	}
	fresh := map[string]bool{}
	ins := st(qInsertSignal)
	for _, id := range g.SignalIDs(sigs) {
		res, err := ins.ExecContext(ctx, g.AlertID, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			fresh[id] = true
		}
	}
	added, changed := store.ApplyGroup(a, creator, sigs, g, fresh, out, created)
	if !changed {
		return nil
	}
	evids, err := json.Marshal(a.EventIDs)
	if err != nil {
		return err
	}
	if _, err := st(qUpdateFolded).ExecContext(ctx, a.Count, micros(a.FirstSeen), micros(a.LastSeen), string(evids), a.ID); err != nil {
		return err
	}
	return insertEvidence(ctx, st, a.ID, added)
}

func insertEvidence(ctx context.Context, st func(string) *sql.Stmt, alertID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ins := st(qInsertEvidence)
	for _, id := range ids {
		if _, err := ins.ExecContext(ctx, alertID, id); err != nil {
			return err
		}
	}
	return nil
}

func insertAlert(ctx context.Context, st func(string) *sql.Stmt, a *alert.Alert) error {
	tags, techs, ents, evids, details, err := marshalLists(a)
	if err != nil {
		return err
	}
	if _, err := st(qInsertAlert).ExecContext(ctx,
		a.ID, a.Detector, string(a.Layer), a.RuleID, a.RuleVersion, a.Title, string(a.Level), a.Level.Rank(),
		a.Score, tags, techs, ents, a.EntityKey, micros(a.FirstSeen), micros(a.LastSeen), a.Count, evids,
		a.Explanation, details, string(a.Status), micros(a.Created)); err != nil {
		return err
	}
	ins := st(qInsertEntity)
	for _, e := range a.Entities {
		if _, err := ins.ExecContext(ctx, a.ID, e.Kind, e.Value); err != nil {
			return err
		}
	}
	return insertEvidence(ctx, st, a.ID, a.EventIDs)
}

// GetAlert returns one alert with its current verdict.
func (s *Store) GetAlert(ctx context.Context, id string) (alert.Alert, error) {
	a, err := scanAlert(s.r.QueryRowContext(ctx, `SELECT `+alertCols+` FROM alerts a WHERE a.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return alert.Alert{}, fmt.Errorf("getting alert %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return alert.Alert{}, fmt.Errorf("getting alert %s: %w", id, err)
	}
	return a, nil
}

// ListAlerts pages through alerts newest LastSeen first (ties by id,
// descending). The cursor is the position after the last alert returned, so
// alerts stored while paging never shift later pages: nothing repeats and
// nothing present when paging began is skipped. An alert whose LastSeen moves
// past the cursor while paging (a later fold) is, like any keyset pager,
// listed where it now sorts.
func (s *Store) ListAlerts(ctx context.Context, q store.AlertQuery) (store.AlertPage, error) {
	where, args, err := listWhere(q)
	if err != nil {
		return store.AlertPage{}, fmt.Errorf("listing alerts: %w", err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	query := `SELECT ` + alertCols + ` FROM alerts a`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY a.last_seen DESC, a.id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return store.AlertPage{}, fmt.Errorf("listing alerts: %w", err)
	}
	defer rows.Close()
	page, err := store.ReadAlertPage(rows, func(r store.Rows) (alert.Alert, error) { return scanAlert(r) }, limit)
	if err != nil {
		return store.AlertPage{}, fmt.Errorf("listing alerts: %w", err)
	}
	return page, nil
}

func listWhere(q store.AlertQuery) ([]string, []any, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if q.RuleID != "" {
		add(`a.rule_id = ?`, q.RuleID)
	}
	if q.Detector != "" {
		add(`a.detector = ?`, q.Detector)
	}
	if q.MinLevel != "" {
		r := q.MinLevel.Rank()
		if r < 0 {
			return nil, nil, fmt.Errorf("%w: unknown level %q", store.ErrInvalid, q.MinLevel)
		}
		add(`a.level_rank >= ?`, r)
	}
	if q.Status != "" {
		add(`a.status = ?`, string(q.Status))
	}
	if q.Entity != "" {
		add(`EXISTS (SELECT 1 FROM alert_entities e WHERE e.value = ? AND e.alert_id = a.id)`, q.Entity)
	}
	if !q.Since.IsZero() {
		add(`a.last_seen >= ?`, micros(q.Since))
	}
	if !q.Until.IsZero() {
		add(`a.first_seen < ?`, micros(q.Until))
	}
	if q.Cursor != "" {
		c, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return nil, nil, err
		}
		add(`(a.last_seen < ? OR (a.last_seen = ? AND a.id < ?))`, c.LastSeen, c.LastSeen, c.ID)
	}
	return where, args, nil
}

// SetVerdict records v, keeps it in the verdict history and closes the alert.
func (s *Store) SetVerdict(ctx context.Context, v alert.Verdict) error {
	if !v.Kind.Valid() {
		return fmt.Errorf("setting verdict on alert %s: %w: unknown verdict kind %q", v.AlertID, store.ErrInvalid, v.Kind)
	}
	if v.Time.IsZero() {
		v.Time = s.now()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE alerts SET status = ?, verdict_kind = ?, verdict_reason = ?,
			verdict_author = ?, verdict_time = ? WHERE id = ?`,
			string(alert.StatusClosed), string(v.Kind), v.Reason, v.Author, micros(v.Time), v.AlertID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO verdicts (alert_id, kind, reason, author, time) VALUES (?, ?, ?, ?, ?)`,
			v.AlertID, string(v.Kind), v.Reason, v.Author, micros(v.Time))
		if err != nil {
			return err
		}
		return s.auditOne(ctx, tx, audit.VerdictSet(ctx, v))
	})
	if err != nil {
		return fmt.Errorf("setting verdict on alert %s: %w", v.AlertID, err)
	}
	return nil
}

// Verdicts returns the verdict history of an alert, oldest first.
func (s *Store) Verdicts(ctx context.Context, alertID string) ([]alert.Verdict, error) {
	var exists int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM alerts WHERE id = ?`, alertID).Scan(&exists)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("listing verdicts of alert %s: %w", alertID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("listing verdicts of alert %s: %w", alertID, err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT kind, reason, author, time FROM verdicts WHERE alert_id = ? ORDER BY id`, alertID)
	if err != nil {
		return nil, fmt.Errorf("listing verdicts of alert %s: %w", alertID, err)
	}
	defer rows.Close()
	out := []alert.Verdict{}
	for rows.Next() {
		v := alert.Verdict{AlertID: alertID}
		var tm int64
		if err := rows.Scan(&v.Kind, &v.Reason, &v.Author, &tm); err != nil {
			return nil, fmt.Errorf("listing verdicts of alert %s: %w", alertID, err)
		}
		v.Time = fromMicros(tm)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing verdicts of alert %s: %w", alertID, err)
	}
	return out, nil
}
