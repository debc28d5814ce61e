package privacy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/rampart-ids/rampart/internal/retention/purpose"
)

// Kind is the kind of personal data a value holds; it selects the
// pseudonym form ("u_…", "e_…", "h_…", "p_…" or a prefix-preserving address).
type Kind string

// The kinds of personal data.
const (
	KindUser  Kind = "user"  // account names: u_<hex>
	KindEmail Kind = "email" // e-mail addresses: e_<hex>
	KindHost  Kind = "host"  // host names: h_<hex>
	KindName  Kind = "name"  // any other configured identifier: p_<hex>
	KindIP    Kind = "ip"    // addresses in scope: prefix-preserving (Crypto-PAn)
)

func (k Kind) valid() bool {
	switch k {
	case KindUser, KindEmail, KindHost, KindName, KindIP:
		return true
	}
	return false
}

// Raw record handling.
const (
	RawDrop  = "drop"  // the raw record is removed (default)
	RawScrub = "scrub" // the raw record is kept with the same text scrubbing as message
)

// Config says what is personal data and how it is protected.
type Config struct {
	// Fields maps event field names to the kind of personal data they hold.
	// Nil means DefaultFields(); ExtraFields adds to whichever applies.
	Fields map[string]Kind `yaml:"fields"`
	// ExtraFields are added to Fields (e.g. a site-specific "labels.owner": name).
	ExtraFields map[string]Kind `yaml:"extra_fields"`
	// DropFields are removed from pseudonymized events entirely.
	DropFields []string `yaml:"drop_fields"`
	// InternalNetworks are the CIDRs whose addresses are personal data
	// (default: RFC 1918, RFC 6598, IPv6 ULA and link-local). Addresses
	// inside are pseudonymized wherever they occur: in any field or in text.
	InternalNetworks []string `yaml:"internal_networks"`
	// AllAddresses pseudonymizes every address, not only internal ones.
	AllAddresses bool `yaml:"all_addresses"`
	// HideNetworkPrefix also pseudonymizes the bits of the matching internal
	// network prefix. By default they are kept, so a pseudonym stays inside
	// its configured network ("is internal" features survive) and can never
	// collide with a real external address.
	HideNetworkPrefix bool `yaml:"hide_network_prefix"`
	// Raw is RawDrop (default) or RawScrub.
	Raw string `yaml:"raw"`
	// ClearRoles see personal data in clear in the API and console
	// (default: responder, admin); all other roles see pseudonyms.
	ClearRoles []string `yaml:"clear_roles"`
	// ReidentifyRoles may call Reidentify (default: admin).
	ReidentifyRoles []string `yaml:"reidentify_roles"`
	// ContinuityWindow: on rotation, entities seen within this window get a
	// continuity entry old → new pseudonym (default 30 days).
	ContinuityWindow time.Duration `yaml:"continuity_window"`
	// TouchEvery bounds how often an entity's LastSeen is written (default 1h).
	TouchEvery time.Duration `yaml:"touch_every"`
	// MaxPending bounds mapping entries buffered between flushes (default 262144).
	MaxPending int `yaml:"max_pending"`
	// Purposes tag data by source with the purposes it may be used for
	// (package retention/purpose). When any are declared, model training
	// uses only sources whose tags allow "training"; untagged sources are
	// excluded and counted in the model's lineage.
	Purposes purpose.Rules `yaml:"purposes"`

	// Deps are the collaborators; they are not configuration.
	Deps Deps `yaml:"-"`
}

// Deps are the Pseudonymizer's collaborators. Nil fields get defaults.
type Deps struct {
	// Mappings keeps the sealed re-identification mapping. Nil disables
	// re-identification (pseudonyms are then one-way).
	Mappings MappingStore
	// Audit receives every Reidentify call, allowed or not. Nil refuses
	// all re-identification: an unaudited reversal is never possible.
	Audit AuditFunc
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (nil: discard).
	Logger *slog.Logger
}

// DefaultFields returns the ECS and Windows fields that hold personal data
// (see docs/fields.md). Address fields need no entry: every address value
// in scope is found by parsing.
func DefaultFields() map[string]Kind {
	return map[string]Kind{
		"user.name":                           KindUser,
		"user.target.name":                    KindUser,
		"user.effective.name":                 KindUser,
		"user.full_name":                      KindName,
		"user.id":                             KindName,
		"user.email":                          KindEmail,
		"user.domain":                         KindHost,
		"source.user.name":                    KindUser,
		"destination.user.name":               KindUser,
		"related.user":                        KindUser,
		"winlog.user.identifier":              KindName,
		"winlog.event_data.TargetUserName":    KindUser,
		"winlog.event_data.SubjectUserName":   KindUser,
		"winlog.event_data.User":              KindUser,
		"winlog.event_data.AccountName":       KindUser,
		"winlog.event_data.TargetUserSid":     KindName,
		"winlog.event_data.SubjectUserSid":    KindName,
		"winlog.event_data.TargetDomainName":  KindHost,
		"winlog.event_data.SubjectDomainName": KindHost,
		"winlog.event_data.WorkstationName":   KindHost,
		"winlog.user_data.SubjectUserName":    KindUser,
		"winlog.user_data.SubjectDomainName":  KindHost,
		"winlog.computer_name":                KindHost,
		"host.name":                           KindHost,
		"host.hostname":                       KindHost,
		"log.syslog.hostname":                 KindHost,
		"source.domain":                       KindHost,
		"client.user.name":                    KindUser,
		"email.from.address":                  KindEmail,
		"email.to.address":                    KindEmail,
		"source.ip":                           KindIP,
		"destination.ip":                      KindIP,
		"related.ip":                          KindIP,
	}
}

// DefaultInternalNetworks are used when InternalNetworks is empty.
func DefaultInternalNetworks() []string {
	return []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fe80::/10"}
}

// compiled is a validated Config with defaults applied.
type compiled struct {
	fields   map[string]Kind
	drop     map[string]bool
	nets     []netip.Prefix
	allAddrs bool
	hidePfx  bool
	rawScrub bool
	roles    []string
	clear    []string
	window   time.Duration
	touch    time.Duration
	pending  int
}

// Validate reports every problem in c at once.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

func (c Config) compile() (*compiled, error) {
	var errs []error
	cc := &compiled{fields: map[string]Kind{}, drop: map[string]bool{}, allAddrs: c.AllAddresses,
		hidePfx: c.HideNetworkPrefix, window: c.ContinuityWindow, touch: c.TouchEvery, pending: c.MaxPending}
	base := c.Fields
	if base == nil {
		base = DefaultFields()
	}
	for _, src := range []map[string]Kind{base, c.ExtraFields} {
		for f, k := range src {
			if f == "" || !k.valid() {
				errs = append(errs, fmt.Errorf("privacy.fields: %q has invalid kind %q (want user, email, host, name or ip)", f, k))
				continue
			}
			cc.fields[f] = k
		}
	}
	for _, f := range c.DropFields {
		cc.drop[f] = true
	}
	nets := c.InternalNetworks
	if len(nets) == 0 {
		nets = DefaultInternalNetworks()
	}
	for _, n := range nets {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("privacy.internal_networks: %q: %w", n, err))
			continue
		}
		cc.nets = append(cc.nets, p.Masked())
	}
	// Longest prefix first so the most specific network decides what is kept.
	slices.SortFunc(cc.nets, func(a, b netip.Prefix) int { return b.Bits() - a.Bits() })
	switch c.Raw {
	case "", RawDrop:
	case RawScrub:
		cc.rawScrub = true
	default:
		errs = append(errs, fmt.Errorf("privacy.raw: %q (want drop or scrub)", c.Raw))
	}
	cc.clear = c.ClearRoles
	if len(cc.clear) == 0 {
		cc.clear = []string{"responder", "admin"}
	}
	cc.roles = c.ReidentifyRoles
	if len(cc.roles) == 0 {
		cc.roles = []string{"admin"}
	}
	if err := c.Purposes.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("privacy.%w", err))
	}
	if cc.window < 0 || cc.touch < 0 || cc.pending < 0 {
		errs = append(errs, errors.New("privacy: continuity_window, touch_every and max_pending must not be negative"))
	}
	if cc.window == 0 {
		cc.window = 30 * 24 * time.Hour
	}
	if cc.touch == 0 {
		cc.touch = time.Hour
	}
	if cc.pending == 0 {
		cc.pending = 1 << 18
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cc, nil
}
