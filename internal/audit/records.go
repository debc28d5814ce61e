package audit

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/signal"
)

// actorKey is the context key of the acting user, token or component.
type actorKey struct{}

// WithActor returns ctx carrying actor ("token:<name>", "user:<name>",
// "component:<name>"). The API sets it from the authenticated token; stores
// that write audit records in their transactions read it with ActorFrom.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor WithActor put in ctx, or def when there is none.
func ActorFrom(ctx context.Context, def string) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return def
}

// clipActor keeps an actor within MaxActor bytes, so a long user name
// cannot fail the change being recorded.
func clipActor(a string) string { return Clip(a, MaxActor) }

// Clip cuts s to at most n bytes at a character boundary: how callers keep
// a field within its limit (MaxActor, MaxSubjectID, …) instead of failing
// the record.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Default actors when the context names none.
const (
	ActorPipeline = "component:pipeline"
	ActorSystem   = "component:system"
)

// AlertCreated is the record of a new alert, made from the alert as stored
// and the signal that created it: the input digest covers the signal id and
// its evidence event ids, the versions name the detector and rule version.
func AlertCreated(ctx context.Context, a alert.Alert, s signal.Signal) Record {
	parts := [][]byte{[]byte(s.ID)}
	for _, id := range s.EventIDs {
		parts = append(parts, []byte(id))
	}
	return Record{
		Actor: clipActor(ActorFrom(ctx, ActorPipeline)), Action: ActionAlertCreated,
		SubjectKind: "alert", SubjectID: a.ID,
		InputDigest: Digest(parts...),
		Versions:    map[string]string{"detector": a.Detector, "rule": a.RuleID + "@" + a.RuleVersion},
		Explanation: fmt.Sprintf("%s alert %q (%s) on %s: %s", a.Level, a.Title, a.Layer, a.EntityKey, a.Explanation),
	}
}

// VerdictSet is the record of a verdict. The actor is the context's (the
// authenticated token) or else the verdict's author.
func VerdictSet(ctx context.Context, v alert.Verdict) Record {
	return Record{
		Actor: clipActor(ActorFrom(ctx, "user:"+v.Author)), Action: ActionVerdictSet,
		SubjectKind: "alert", SubjectID: v.AlertID,
		Time:        v.Time,
		Explanation: fmt.Sprintf("%s by %s: %s", v.Kind, v.Author, v.Reason),
	}
}

// TokenCreated is the record of a new API token; the secret and its hash
// are never part of it.
func TokenCreated(ctx context.Context, id, name, role string) Record {
	return Record{
		Actor: clipActor(ActorFrom(ctx, ActorSystem)), Action: ActionTokenCreated,
		SubjectKind: "token", SubjectID: id,
		Explanation: fmt.Sprintf("token %q with role %s", name, role),
	}
}

// RulesReloaded is the record of a rule set (re)load: ruleset names it
// ("sigma", "ioc", …), versions maps rule ids to their versions (only the
// first MaxVersions-1 are kept, with a count), digest covers the rule
// sources. It is appended with Log.Record, outside any store transaction.
func RulesReloaded(actor, ruleset string, versions map[string]string, digest, explanation string) Record {
	vs := map[string]string{"rules": strconv.Itoa(len(versions))}
	keys := make([]string, 0, len(versions))
	for k := range versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(vs) >= MaxVersions {
			break
		}
		vs[k] = versions[k]
	}
	if explanation == "" {
		explanation = fmt.Sprintf("%d %s rules loaded", len(versions), ruleset)
	}
	return Record{Actor: actor, Action: ActionRulesReloaded, SubjectKind: "ruleset", SubjectID: ruleset,
		InputDigest: digest, Versions: vs, Explanation: explanation}
}

// Change is the generic record for the other actions (model_trained,
// model_promoted, model_rolled_back, suppression_created, policy_changed,
// action_executed, decision_made): subject kind and id, what it was based
// on and why.
func Change(ctx context.Context, action, subjectKind, subjectID, inputDigest string, versions map[string]string, explanation string) Record {
	return Record{Actor: ActorFrom(ctx, ActorSystem), Action: action, SubjectKind: subjectKind, SubjectID: subjectID,
		InputDigest: inputDigest, Versions: versions, Explanation: strings.TrimSpace(explanation)}
}
