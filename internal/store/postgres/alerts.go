package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	a.tags::text, a.techniques::text, a.entities::text, a.entity_key, a.first_seen, a.last_seen, a.count,
	a.event_ids::text, a.explanation, a.details::text, a.status, a.created,
	a.verdict_kind, a.verdict_reason, a.verdict_author, a.verdict_time`

// entityJSON gives entities stable lower-case keys in the stored JSON.
type entityJSON struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

func scanAlert(row pgx.Row) (alert.Alert, error) {
	var (
		a                                 alert.Alert
		tags, techs, ents, evids, details string
		vKind, vReason, vAuthor           *string
		vTime                             *time.Time
		level, layer, status              string
	)
	err := row.Scan(&a.ID, &a.Detector, &layer, &a.RuleID, &a.RuleVersion, &a.Title, &level, &a.Score,
		&tags, &techs, &ents, &a.EntityKey, &a.FirstSeen, &a.LastSeen, &a.Count, &evids,
		&a.Explanation, &details, &status, &a.Created, &vKind, &vReason, &vAuthor, &vTime)
	if err != nil {
		return a, err
	}
	a.Layer, a.Level, a.Status = signal.Layer(layer), signal.Level(level), alert.Status(status)
	a.FirstSeen, a.LastSeen, a.Created = utc(a.FirstSeen), utc(a.LastSeen), utc(a.Created)
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
	if vKind != nil {
		a.Verdict = &alert.Verdict{AlertID: a.ID, Kind: alert.VerdictKind(*vKind), Time: utc(*vTime)}
		if vReason != nil {
			a.Verdict.Reason = *vReason
		}
		if vAuthor != nil {
			a.Verdict.Author = *vAuthor
		}
	}
	return a, nil
}

func marshalLists(a *alert.Alert) (tags, techs, ents, evids, details string, err error) {
	var es []entityJSON
	if a.Entities != nil {
		es = make([]entityJSON, len(a.Entities))
		for i, e := range a.Entities {
			es[i] = entityJSON(e)
		}
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

// sanitizeSignal makes a copy of sig whose text PostgreSQL can store.
func sanitizeSignal(sig signal.Signal) signal.Signal {
	sig = store.CleanSignal(sig)
	sig.ID, sig.Detector, sig.RuleID, sig.RuleVersion = pgText(sig.ID), pgText(sig.Detector), pgText(sig.RuleID), pgText(sig.RuleVersion)
	sig.Title, sig.Explanation = pgText(sig.Title), pgText(sig.Explanation)
	sig.Layer, sig.Level = signal.Layer(pgText(string(sig.Layer))), signal.Level(pgText(string(sig.Level)))
	sig.Tags, sig.Techniques, sig.EventIDs = pgTexts(sig.Tags), pgTexts(sig.Techniques), pgTexts(sig.EventIDs)
	if sig.Entities != nil {
		es := make([]signal.Entity, len(sig.Entities))
		for i, e := range sig.Entities {
			es[i] = signal.Entity{Kind: pgText(e.Kind), Value: pgText(e.Value)}
		}
		sig.Entities = es
	}
	return sig
}

// RecordSignals folds signals into alerts in one transaction; see
// store.AlertStore for the semantics.
//
// Concurrency: each alert row is locked with SELECT … FOR UPDATE, or created
// with INSERT … ON CONFLICT DO NOTHING (which waits for a concurrent creator),
// before its signals are folded, and a batch visits its alerts in id order,
// so concurrent batches serialize per alert without deadlocking and no fold
// is lost. Per alert it costs three round trips whatever the signal count.
func (s *Store) RecordSignals(ctx context.Context, sigs []signal.Signal, alertIDs []string) ([]alert.Alert, []bool, error) {
	if err := store.CheckSignals(sigs, alertIDs); err != nil {
		return nil, nil, fmt.Errorf("recording signals: %w", err)
	}
	if len(sigs) == 0 {
		return []alert.Alert{}, []bool{}, nil
	}
	clean := make([]signal.Signal, len(sigs))
	ids := make([]string, len(sigs))
	for i := range sigs {
		clean[i], ids[i] = sanitizeSignal(sigs[i]), pgText(alertIDs[i])
	}
	groups := store.GroupSignals(ids)
	now := s.now()
	var (
		out     []alert.Alert
		created []bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out, created = make([]alert.Alert, len(sigs)), make([]bool, len(sigs))
		for _, g := range groups {
			if err := recordGroup(ctx, tx, clean, g, now, out, created); err != nil {
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

func recordGroup(ctx context.Context, tx pgx.Tx, sigs []signal.Signal, g store.SignalGroup, now time.Time, out []alert.Alert, created []bool) error {
	const lockAlert = `SELECT ` + alertCols + ` FROM alerts a WHERE a.id = $1 FOR UPDATE`
	var a *alert.Alert
	creator := -1
	got, err := scanAlert(tx.QueryRow(ctx, lockAlert, g.AlertID))
	if errors.Is(err, pgx.ErrNoRows) {
		na := store.NewAlert(g.AlertID, &sigs[g.Inputs[0]], now)
		inserted, ierr := insertAlert(ctx, tx, &na)
		if ierr != nil {
			return ierr
		}
		if inserted {
			a, creator = &na, g.Inputs[0]
		} else {
			// Another transaction created it since the SELECT: lock that one.
			got, err = scanAlert(tx.QueryRow(ctx, lockAlert, g.AlertID))
		}
	}
	if a == nil {
		if err != nil {
			return err
		}
		a = &got
	}
	rows, err := tx.Query(ctx, `INSERT INTO alert_signals (alert_id, signal_id) SELECT $1, sid FROM unnest($2::text[]) AS u(sid)
		ON CONFLICT DO NOTHING RETURNING signal_id`, g.AlertID, g.SignalIDs(sigs))
	if err != nil {
		return err
	}
	newIDs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	fresh := make(map[string]bool, len(newIDs))
	for _, id := range newIDs {
		fresh[id] = true
	}
	added, changed := store.ApplyGroup(a, creator, sigs, g, fresh, out, created)
	b := &pgx.Batch{}
	if creator >= 0 {
		kinds, values := make([]string, len(a.Entities)), make([]string, len(a.Entities))
		for i, e := range a.Entities {
			kinds[i], values[i] = e.Kind, e.Value
		}
		b.Queue(`INSERT INTO alert_entities (alert_id, kind, value) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS u(k, v)
			ON CONFLICT DO NOTHING`, a.ID, kinds, values)
		added = a.EventIDs // all evidence is new
	}
	if changed {
		evids, err := json.Marshal(a.EventIDs)
		if err != nil {
			return err
		}
		b.Queue(`UPDATE alerts SET count = $1, first_seen = $2, last_seen = $3, event_ids = $4::text::json WHERE id = $5`,
			a.Count, a.FirstSeen, a.LastSeen, string(evids), a.ID)
	}
	if len(added) > 0 {
		b.Queue(`INSERT INTO alert_events (alert_id, event_id) SELECT $1, e FROM unnest($2::text[]) AS u(e)
			ON CONFLICT DO NOTHING`, a.ID, added)
	}
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

// insertAlert creates the alert row (locking it) and reports whether it was
// new; an existing alert is left alone.
func insertAlert(ctx context.Context, tx pgx.Tx, a *alert.Alert) (bool, error) {
	tags, techs, ents, evids, details, err := marshalLists(a)
	if err != nil {
		return false, err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO alerts (id, detector, layer, rule_id, rule_version,
		title, level, level_rank, score, tags, techniques, entities, entity_key, first_seen, last_seen,
		count, event_ids, explanation, details, status, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::json, $11::text::json, $12::text::json, $13, $14, $15,
			$16, $17::text::json, $18, $19::text::json, $20, $21)
		ON CONFLICT (id) DO NOTHING`,
		a.ID, a.Detector, string(a.Layer), a.RuleID, a.RuleVersion, a.Title, string(a.Level), a.Level.Rank(),
		a.Score, tags, techs, ents, a.EntityKey, a.FirstSeen, a.LastSeen, a.Count, evids,
		a.Explanation, details, string(a.Status), a.Created)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// GetAlert returns one alert with its current verdict.
func (s *Store) GetAlert(ctx context.Context, id string) (alert.Alert, error) {
	a, err := scanAlert(s.pool.QueryRow(ctx, `SELECT `+alertCols+` FROM alerts a WHERE a.id = $1`, pgText(id)))
	if errors.Is(err, pgx.ErrNoRows) {
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
	args = append(args, limit+1)
	query += fmt.Sprintf(` ORDER BY a.last_seen DESC, a.id DESC LIMIT $%d`, len(args))
	rows, err := s.pool.Query(ctx, query, args...)
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
	// add appends a condition whose placeholders are written as "?".
	add := func(cond string, a ...any) {
		for _, v := range a {
			args = append(args, v)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if q.RuleID != "" {
		add(`a.rule_id = ?`, pgText(q.RuleID))
	}
	if q.Detector != "" {
		add(`a.detector = ?`, pgText(q.Detector))
	}
	if q.MinLevel != "" {
		r := q.MinLevel.Rank()
		if r < 0 {
			return nil, nil, fmt.Errorf("%w: unknown level %q", store.ErrInvalid, q.MinLevel)
		}
		add(`a.level_rank >= ?`, r)
	}
	if q.Status != "" {
		add(`a.status = ?`, pgText(string(q.Status)))
	}
	if q.Entity != "" {
		add(`EXISTS (SELECT 1 FROM alert_entities e WHERE e.value = ? AND e.alert_id = a.id)`, pgText(q.Entity))
	}
	if !q.Since.IsZero() {
		add(`a.last_seen >= ?`, q.Since)
	}
	if !q.Until.IsZero() {
		add(`a.first_seen < ?`, q.Until)
	}
	if q.Cursor != "" {
		c, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return nil, nil, err
		}
		t := time.UnixMicro(c.LastSeen).UTC()
		add(`(a.last_seen < ? OR (a.last_seen = ? AND a.id < ?))`, t, t, pgText(c.ID))
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
	id, reason, author := pgText(v.AlertID), pgText(v.Reason), pgText(v.Author)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE alerts SET status = $1, verdict_kind = $2, verdict_reason = $3,
			verdict_author = $4, verdict_time = $5 WHERE id = $6`,
			string(alert.StatusClosed), string(v.Kind), reason, author, v.Time, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		_, err = tx.Exec(ctx, `INSERT INTO verdicts (alert_id, kind, reason, author, time) VALUES ($1, $2, $3, $4, $5)`,
			id, string(v.Kind), reason, author, v.Time)
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
	rows, err := s.pool.Query(ctx, `SELECT v.kind, v.reason, v.author, v.time, a.id IS NOT NULL
		FROM (SELECT 1) one
		LEFT JOIN alerts a ON a.id = $1
		LEFT JOIN verdicts v ON v.alert_id = a.id
		ORDER BY v.id`, pgText(alertID))
	if err != nil {
		return nil, fmt.Errorf("listing verdicts of alert %s: %w", alertID, err)
	}
	defer rows.Close()
	out := []alert.Verdict{}
	exists := false
	for rows.Next() {
		var (
			kind, reason, author *string
			tm                   *time.Time
		)
		if err := rows.Scan(&kind, &reason, &author, &tm, &exists); err != nil {
			return nil, fmt.Errorf("listing verdicts of alert %s: %w", alertID, err)
		}
		if kind != nil {
			out = append(out, alert.Verdict{AlertID: alertID, Kind: alert.VerdictKind(*kind),
				Reason: *reason, Author: *author, Time: utc(*tm)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing verdicts of alert %s: %w", alertID, err)
	}
	if !exists {
		return nil, fmt.Errorf("listing verdicts of alert %s: %w", alertID, store.ErrNotFound)
	}
	return out, nil
}
