// Package links is gavel's linkage detector: it remembers which accounts used
// which device, payout account and identity document, and which accounts
// gavel suspended, and tells the policy when an account shares one of these
// with other accounts or with a suspended one. Links are recorded on every
// Detect that is not a dry run, at every checkpoint; suspensions arrive
// through Observe (the host forwards committed decisions). The store is
// SQLite by default and PostgreSQL when several gavel replicas share it.
//
// Identifiers (device ids, payout account hashes, document numbers) are
// stored only as keyed hashes. Account ids are stored and reported as the
// caller sent them: they are the marketplace's own opaque ids, already in
// gavel's ledger, and a reviewer needs them to open the linked account's
// history. They appear only in signal evidence, which gavel shows to
// reviewers, never to the account holder, and masks in decision logs.
package links

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gavel/gavel/plugins/personname"
	"github.com/gavel/gavel/plugins/sdk"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Signals the detector emits.
const (
	SignalSharedDevice   = "linkage.shared_device"
	SignalSharedPayout   = "linkage.shared_payout_account"
	SignalSharedDocument = "linkage.shared_document"
	SignalSuspendedLink  = "linkage.suspended_link"
)

// maxEvidenceAccounts bounds the account ids listed in one signal's evidence;
// the count is always complete (up to the store's limit).
const maxEvidenceAccounts = 10

// Config is the linkage detector's configuration.
type Config struct {
	// MaxAge is how long a link counts after it was last seen.
	MaxAge time.Duration
	// HashKey keys the identifier hashes (HMAC-SHA-256). Replicas sharing a
	// PostgreSQL store must share it; changing it forgets every link.
	HashKey string
	// PostgresDSN selects PostgreSQL; empty means SQLite under the data folder.
	PostgresDSN string
}

// LoadConfig reads the configuration through env (sdk.Env in production):
// MAX_AGE (default 8760h), HASH_KEY, POSTGRES_DSN.
func LoadConfig(env func(key, def string) string) (Config, error) {
	s := env("MAX_AGE", "8760h")
	age, err := time.ParseDuration(s)
	if err != nil || age <= 0 {
		return Config{}, fmt.Errorf("linkage configuration: MAX_AGE: %q is not a positive duration", s)
	}
	return Config{MaxAge: age, HashKey: env("HASH_KEY", ""), PostgresDSN: env("POSTGRES_DSN", "")}, nil
}

// Detector is the linkage detector. It is safe for concurrent use.
type Detector struct {
	store *Store
	cfg   Config
}

var (
	_ sdk.Detector = (*Detector)(nil)
	_ sdk.Observer = (*Detector)(nil)
)

// NewDetector returns a detector keeping its links in store.
func NewDetector(store *Store, cfg Config) *Detector {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 365 * 24 * time.Hour
	}
	return &Detector{store: store, cfg: cfg}
}

// Describe implements sdk.Detector: every checkpoint, and observes.
func (d *Detector) Describe(context.Context) (*detectorv1.DescribeResponse, error) {
	return &detectorv1.DescribeResponse{
		Name:          "linkage",
		Version:       "1.0.0",
		Signals:       []string{SignalSharedDevice, SignalSharedPayout, SignalSharedDocument, SignalSuspendedLink},
		LatencyBudget: durationpb.New(30 * time.Millisecond),
		Observes:      true,
	}, nil
}

// Detect implements sdk.Detector. For each identifier the request carries
// (context.device_id, attributes.payout.account_hash,
// attributes.document.country+number) it records the link, unless it is a
// dry run, and emits the number of other accounts that used it; plus
// linkage.suspended_link, scored 1 when any of those accounts is suspended.
func (d *Detector) Detect(ctx context.Context, req *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error) {
	account := strings.TrimSpace(req.GetSubject().GetId())
	keys := d.keys(req.GetContext(), req.GetAttributes())
	if account == "" || len(keys) == 0 {
		return &detectorv1.DetectResponse{}, nil
	}
	at := time.Now()
	if req.GetNow().IsValid() && req.GetNow().AsTime().Unix() > 0 {
		at = req.GetNow().AsTime()
	}
	family := ""
	if k := personname.FamilyKey(req.GetSubject().GetProfile().GetFamilyName()); k != "" {
		family = d.hash("family", k)
	}
	var facts *NewFacts
	if !req.GetDryRun() {
		// Recorded with the links, in their transaction, whatever becomes
		// of ctx (sdk.Record).
		facts = &NewFacts{FamilyHash: family}
		if c := req.GetSubject().GetCreatedAt(); c.IsValid() && c.AsTime().Unix() > 0 {
			facts.CreatedAt = c.AsTime()
		}
	}
	linked, err := d.store.Link(ctx, account, keys, at, at.Add(-d.cfg.MaxAge), !req.GetDryRun(), facts)
	if err != nil {
		return nil, err
	}
	resp := &detectorv1.DetectResponse{}
	var (
		suspended []string
		seen      = map[string]bool{}
		vias      []string
	)
	for i, k := range keys {
		others := linked[i]
		ids := make([]string, 0, min(len(others), maxEvidenceAccounts))
		via := false
		for _, l := range others {
			if len(ids) < maxEvidenceAccounts {
				ids = append(ids, l.Account)
			}
			if l.Suspended {
				via = true
				if !seen[l.Account] {
					seen[l.Account] = true
					suspended = append(suspended, l.Account)
				}
			}
		}
		if via {
			vias = append(vias, k.Kind)
		}
		ev := map[string]any{
			"accounts":        len(others),
			"linked_accounts": ids,
		}
		if k.Kind == KindDevice && len(others) > 0 {
			hh, err := d.household(ctx, family, others, at)
			if err != nil {
				return nil, err
			}
			ev["household"] = hh
		}
		resp.Signals = append(resp.Signals, sdk.NewSignal(signalOf[k.Kind], shareScore(k.Kind, len(others)),
			fmt.Sprint(len(others)), ev, 1))
	}
	ev := map[string]any{"accounts": len(suspended)}
	score := 0.0
	if len(suspended) > 0 {
		score = 1
		ev["via"] = vias[0] // keys are in order of severity: document, payout, device
		ev["vias"] = vias
		ev["linked_accounts"] = suspended[:min(len(suspended), maxEvidenceAccounts)]
	}
	resp.Signals = append(resp.Signals, sdk.NewSignal(SignalSuspendedLink, score, fmt.Sprint(len(suspended)), ev, 1))
	return resp, nil
}

var signalOf = map[string]string{
	KindDevice:   SignalSharedDevice,
	KindPayout:   SignalSharedPayout,
	KindDocument: SignalSharedDocument,
}

// shareScore maps the number of other accounts on an identifier to 0..1.
// Any sharing scores at least 0.5 (the policies' "observed"); a document used
// by any other account scores 1 (identity reuse); devices and payout accounts
// rise by 0.25 per further account.
func shareScore(kind string, others int) float64 {
	switch {
	case others <= 0:
		return 0
	case kind == KindDocument:
		return 1
	default:
		return min(1, 0.5+0.25*float64(others-1))
	}
}

// Observe implements sdk.Observer: a "suspend" decision marks its subject
// suspended (and records the identifiers it was made with), a "restrict"
// marks it restricted (households: see household.go); the same decision
// overturned un-marks it. Other actions are ignored.
func (d *Detector) Observe(ctx context.Context, req *detectorv1.ObserveRequest) error {
	account := strings.TrimSpace(req.GetSubjectId())
	action := req.GetAction()
	if (action != "suspend" && action != "restrict") || account == "" {
		return nil
	}
	if req.GetDecisionId() == "" {
		return fmt.Errorf("observed %s has no decision id", action)
	}
	at := time.Now()
	if req.GetDecidedAt().IsValid() && req.GetDecidedAt().AsTime().Unix() > 0 {
		at = req.GetDecidedAt().AsTime()
	}
	if action == "restrict" {
		if req.GetOverturned() {
			return d.store.Unflag(ctx, account, req.GetDecisionId())
		}
		return d.store.Flag(ctx, account, req.GetDecisionId(), at)
	}
	if req.GetOverturned() {
		return d.store.Unsuspend(ctx, account, req.GetDecisionId())
	}
	return d.store.Suspend(ctx, account, req.GetDecisionId(), d.keys(req.GetContext(), req.GetAttributes()), at)
}

// keys returns the hashed identifiers a request carries, most severe kind
// first: document, payout, device.
func (d *Detector) keys(c *detectorv1.Context, attrs *structpb.Struct) []Key {
	var keys []Key
	fields := attrs.GetFields()
	doc := fields["document"].GetStructValue().GetFields()
	if n := normaliseDocument(doc["number"].GetStringValue()); n != "" {
		country := strings.ToUpper(strings.TrimSpace(doc["country"].GetStringValue()))
		keys = append(keys, Key{Kind: KindDocument, Hash: d.hash(KindDocument, country+":"+n)})
	}
	payout := fields["payout"].GetStructValue().GetFields()
	if h := strings.ToLower(strings.TrimSpace(payout["account_hash"].GetStringValue())); h != "" {
		keys = append(keys, Key{Kind: KindPayout, Hash: d.hash(KindPayout, h)})
	}
	if dev := strings.TrimSpace(c.GetDeviceId()); dev != "" {
		keys = append(keys, Key{Kind: KindDevice, Hash: d.hash(KindDevice, dev)})
	}
	return keys
}

// normaliseDocument upper-cases a document number and drops the spaces,
// dashes and dots vendors and users put in it.
func normaliseDocument(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '/', '\t':
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(s)))
}

// hash is the stored form of an identifier: HMAC-SHA-256 under the
// configured key, per kind, 128 bits in hex.
func (d *Detector) hash(kind, v string) string {
	m := hmac.New(sha256.New, []byte(d.cfg.HashKey))
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
