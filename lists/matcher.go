package lists

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/gavel/gavel/decision"
)

var _ decision.ListMatcher = (*Matcher)(nil)

// Matcher matches requests against every list, from an in-memory index that
// follows the store's change feed. Match reads an immutable snapshot through
// one atomic load: no lock on the decision's path. Sync applies new changes
// by copying only a small overlay of changed keys; when the overlay grows it
// is folded into a new base off the decision's path.
//
// IP entries are kept by prefix: an address is looked up once per prefix
// length present in the lists (at most 25 for IPv4, 97 for IPv6, a handful in
// practice), never by scanning ranges.
type Matcher struct {
	store  Store
	hasher Hasher
	log    *slog.Logger

	cur  atomic.Pointer[index]
	mu   sync.Mutex // serialises Load and Sync
	stat struct {
		sync.Mutex
		lastSync time.Time
		lastErr  string
	}
}

// NewMatcher returns a matcher over store; Load it before use.
func NewMatcher(store Store, hasher Hasher, log *slog.Logger) *Matcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Matcher{store: store, hasher: hasher, log: log}
	m.cur.Store(newIndex())
	return m
}

type listDef struct {
	id      int64
	name    string
	kind    Kind
	purpose Purpose
	action  string
	exempts []string
}

type ref struct {
	list    int64
	expires int64 // unix nanoseconds; 0: never
	note    string
}

// index is one immutable snapshot. A key is the kind's code byte followed
// by the value: the normalised text, the 16 hash bytes of a personal value,
// or an IP range's masked address bytes and its length.
type index struct {
	seq   int64
	lists map[int64]*listDef
	kinds [16]int // lists per kind code
	base  map[string][]ref
	delta map[string][]ref // overrides base for the keys it holds
	v4    [33]int32        // entries per IPv4 prefix length
	v6    [129]int32       // entries per IPv6 prefix length
	size  int
}

func newIndex() *index {
	return &index{lists: map[int64]*listDef{}, base: map[string][]ref{}, delta: map[string][]ref{}}
}

func (ix *index) lookup(k string) []ref {
	if d, ok := ix.delta[k]; ok {
		return d
	}
	return ix.base[k]
}

// indexKey turns a stored key of a list of kind k into an index key.
func indexKey(k Kind, stored string) (string, error) {
	b := make([]byte, 0, 1+len(stored))
	b = append(b, k.code())
	switch {
	case k.Personal():
		x, ok := strings.CutPrefix(stored, hashedPrefix)
		raw, err := hex.DecodeString(x)
		if !ok || err != nil || len(raw) != 16 {
			return "", fmt.Errorf("stored key %q of a %s list is not a keyed hash", stored, k)
		}
		b = append(b, raw...)
	case k == IP:
		p, err := netip.ParsePrefix(stored)
		if err != nil {
			return "", fmt.Errorf("stored key %q of an ip list: %w", stored, err)
		}
		b = appendPrefix(b, p)
	default:
		b = append(b, stored...)
	}
	return string(b), nil
}

func appendPrefix(b []byte, p netip.Prefix) []byte {
	if p.Addr().Is4() {
		a := p.Addr().As4()
		b = append(b, a[:]...)
	} else {
		a := p.Addr().As16()
		b = append(b, a[:]...)
	}
	return append(b, byte(p.Bits()))
}

// builder makes the next snapshot from the current one: lists copied, the
// overlay copied, the base shared.
type builder struct {
	ix *index
}

func (m *Matcher) edit() *builder {
	old := m.cur.Load()
	ix := *old
	ix.lists = make(map[int64]*listDef, len(old.lists))
	for k, v := range old.lists {
		ix.lists[k] = v
	}
	ix.delta = make(map[string][]ref, len(old.delta)+16)
	for k, v := range old.delta {
		ix.delta[k] = v
	}
	return &builder{ix: &ix}
}

func (b *builder) define(l List) {
	if _, ok := b.ix.lists[l.ID]; !ok {
		b.ix.kinds[l.Kind.code()]++
	}
	b.ix.lists[l.ID] = &listDef{id: l.ID, name: l.Name, kind: l.Kind, purpose: l.Purpose, action: l.Action, exempts: l.Exempts}
}

func (b *builder) count(key string, kind Kind, d int) {
	b.ix.size += d
	if kind == IP {
		bits := int(key[len(key)-1])
		if len(key) == 1+4+1 {
			b.ix.v4[bits] += int32(d)
		} else {
			b.ix.v6[bits] += int32(d)
		}
	}
}

// put adds or replaces list's entry under key.
func (b *builder) put(l *listDef, key string, r ref) {
	old := b.ix.lookup(key)
	refs := make([]ref, 0, len(old)+1)
	found := false
	for _, x := range old {
		if x.list == l.id {
			found = true
			continue
		}
		refs = append(refs, x)
	}
	refs = append(refs, r)
	b.ix.delta[key] = refs
	if !found {
		b.count(key, l.kind, 1)
	}
}

// remove drops list's entry under key.
func (b *builder) remove(l *listDef, key string) {
	old := b.ix.lookup(key)
	refs := make([]ref, 0, len(old))
	for _, x := range old {
		if x.list != l.id {
			refs = append(refs, x)
		}
	}
	if len(refs) == len(old) {
		return
	}
	b.ix.delta[key] = refs
	b.count(key, l.kind, -1)
}

// compactAt is the overlay size at which it is folded into a new base.
const compactAt = 4096

// fold merges the overlay into a new base, dropping the entries of the lists
// in drop (about to be reloaded whole).
func (b *builder) fold(drop map[int64]bool) {
	ix := b.ix
	base := make(map[string][]ref, len(ix.base)+len(ix.delta))
	keep := func(k string, refs []ref) {
		if len(drop) > 0 {
			var kept []ref
			for _, r := range refs {
				if drop[r.list] {
					b.count(k, ix.lists[r.list].kind, -1)
				} else {
					kept = append(kept, r)
				}
			}
			refs = kept
		}
		if len(refs) > 0 {
			base[k] = refs
		}
	}
	for k, refs := range ix.base {
		if _, over := ix.delta[k]; !over {
			keep(k, refs)
		}
	}
	for k, refs := range ix.delta {
		keep(k, refs)
	}
	ix.base, ix.delta = base, map[string][]ref{}
}

// pageSize is how many entries Load reads per query.
const pageSize = 5000

// load reads every entry of l into the builder's overlay-free base.
func (m *Matcher) load(ctx context.Context, b *builder, l *listDef) error {
	after := ""
	for {
		es, err := m.store.Entries(ctx, l.id, after, pageSize)
		if err != nil {
			return fmt.Errorf("load list %q: %w", l.name, err)
		}
		for _, e := range es {
			k, err := indexKey(l.kind, e.Key)
			if err != nil {
				m.log.Warn("list entry skipped", "list", l.name, "error", err)
				continue
			}
			refs := b.ix.base[k]
			dup := false
			for _, r := range refs {
				dup = dup || r.list == l.id
			}
			if !dup {
				b.ix.base[k] = append(refs, refOf(l.id, e))
				b.count(k, l.kind, 1)
			}
		}
		if len(es) < pageSize {
			return nil
		}
		after = es[len(es)-1].Key
	}
}

func refOf(list int64, e Entry) ref {
	r := ref{list: list, note: e.Note}
	if !e.ExpiresAt.IsZero() {
		r.expires = e.ExpiresAt.UnixNano()
	}
	return r
}

// Load reads every list and entry from the store, replacing the index.
func (m *Matcher) Load(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.loadAll(ctx)
	m.record(err)
	return err
}

func (m *Matcher) loadAll(ctx context.Context) error {
	// Changes after seq are applied again by the next Sync; adds and
	// removes are idempotent, so overlap with what Load read is harmless.
	seq, err := m.store.LastChange(ctx)
	if err != nil {
		return fmt.Errorf("load lists: %w", err)
	}
	ls, err := m.store.Lists(ctx)
	if err != nil {
		return fmt.Errorf("load lists: %w", err)
	}
	b := &builder{ix: newIndex()}
	b.ix.seq = seq
	for _, l := range ls {
		b.define(l)
		if err := m.load(ctx, b, b.ix.lists[l.ID]); err != nil {
			return err
		}
	}
	m.cur.Store(b.ix)
	m.log.Info("lists loaded", "lists", len(ls), "entries", b.ix.size, "seq", seq)
	return nil
}

// syncBatch is how many changes one Sync applies at most.
const syncBatch = 10000

// Sync applies the changes committed since the last Load or Sync.
func (m *Matcher) Sync(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.sync(ctx)
	m.record(err)
	return err
}

func (m *Matcher) sync(ctx context.Context) error {
	for {
		cur := m.cur.Load()
		cs, err := m.store.Changes(ctx, cur.seq, syncBatch)
		if err != nil {
			return fmt.Errorf("sync lists: %w", err)
		}
		if len(cs) == 0 {
			return nil
		}
		b := m.edit()
		reload := map[int64]bool{}
		for _, c := range cs {
			if c.Op == OpCreate || b.ix.lists[c.ListID] == nil {
				l, err := m.store.GetList(ctx, c.ListName)
				if err != nil {
					return fmt.Errorf("sync lists: list %q: %w", c.ListName, err)
				}
				b.define(l)
				// Its entries may predate this index (created before a
				// Load that missed it): read it whole.
				reload[l.ID] = true
				continue
			}
			if c.Op == OpImport {
				reload[c.ListID] = true
			}
			if reload[c.ListID] {
				continue // the reload reads the list as it is now
			}
			l := b.ix.lists[c.ListID]
			k, err := indexKey(l.kind, c.Key)
			if err != nil {
				m.log.Warn("list change skipped", "list", l.name, "seq", c.Seq, "error", err)
				continue
			}
			switch c.Op {
			case OpAdd:
				b.put(l, k, refOf(l.id, Entry{Note: c.Note, ExpiresAt: c.ExpiresAt}))
			case OpRemove:
				b.remove(l, k)
			}
		}
		if len(reload) > 0 || len(b.ix.delta) >= compactAt {
			b.fold(reload)
			for id := range reload {
				if err := m.load(ctx, b, b.ix.lists[id]); err != nil {
					return err
				}
			}
		}
		b.ix.seq = cs[len(cs)-1].Seq
		m.cur.Store(b.ix)
		if len(cs) < syncBatch {
			return nil
		}
	}
}

func (m *Matcher) record(err error) {
	m.stat.Lock()
	defer m.stat.Unlock()
	if err != nil {
		if m.stat.lastErr != err.Error() {
			m.log.Warn("lists not in sync with the ledger", "error", err)
		}
		m.stat.lastErr = err.Error()
		return
	}
	if m.stat.lastErr != "" {
		m.log.Info("lists back in sync with the ledger")
	}
	m.stat.lastErr = ""
	m.stat.lastSync = time.Now()
}

// Run syncs every interval until ctx is done.
func (m *Matcher) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = m.Sync(ctx) // recorded in the status
		}
	}
}

// Status is the matcher's state, for gavel status and metrics.
type Status struct {
	Lists    int
	Entries  int
	Seq      int64 // the last change applied
	LastSync time.Time
	Error    string // why the last sync failed; "" when it did not
}

// Status reports the matcher's state.
func (m *Matcher) Status() Status {
	ix := m.cur.Load()
	m.stat.Lock()
	defer m.stat.Unlock()
	return Status{Lists: len(ix.lists), Entries: ix.size, Seq: ix.seq, LastSync: m.stat.lastSync, Error: m.stat.lastErr}
}

// Match implements decision.ListMatcher.
func (m *Matcher) Match(_ context.Context, req *decision.Request, now time.Time) []decision.ListMatch {
	ix := m.cur.Load()
	if ix.size == 0 {
		return nil
	}
	q := query{ix: ix, now: now.UnixNano(), buf: make([]byte, 0, 64)}
	if ix.kinds[SubjectID.code()] > 0 {
		q.plain(SubjectID, req.Subject.ID)
	}
	if ix.kinds[DeviceID.code()] > 0 {
		q.plain(DeviceID, strings.TrimSpace(req.Context.DeviceID))
	}
	if email := req.Subject.Profile.Email; email != "" && ix.kinds[Email.code()]+ix.kinds[EmailDomain.code()] > 0 {
		if e, err := normaliseEmail(strings.TrimSpace(email)); err == nil {
			if ix.kinds[Email.code()] > 0 {
				q.hashed(m.hasher, Email, e)
			}
			if ix.kinds[EmailDomain.code()] > 0 {
				_, d, _ := strings.Cut(e, "@")
				for strings.Contains(d, ".") { // the domain and each parent: a.b.example.com … example.com
					q.plain(EmailDomain, d)
					_, d, _ = strings.Cut(d, ".")
				}
			}
		}
	}
	if p := req.Subject.Profile.Phone; p != "" && ix.kinds[Phone.code()] > 0 {
		if n, ok := requestPhone(p, req.Subject.Profile.Country); ok {
			q.hashed(m.hasher, Phone, n)
		}
	}
	if ip := req.Context.IP; ip != "" && ix.kinds[IP.code()] > 0 {
		if a, err := netip.ParseAddr(ip); err == nil {
			q.ip(a.Unmap())
		}
	}
	if ix.kinds[PayoutAccount.code()] > 0 {
		if v := attr(req.Attributes, "payout", "account_hash"); v != "" {
			if n, err := normalise(PayoutAccount, v); err == nil {
				q.hashed(m.hasher, PayoutAccount, n)
			}
		}
	}
	if ix.kinds[DocumentNumber.code()] > 0 {
		if v := attr(req.Attributes, "document", "number"); v != "" {
			if n, err := normalise(DocumentNumber, v); err == nil {
				q.hashed(m.hasher, DocumentNumber, n)
			}
		}
	}
	return q.out
}

func attr(attrs map[string]any, obj, key string) string {
	o, _ := attrs[obj].(map[string]any)
	s, _ := o[key].(string)
	return s
}

// requestPhone normalises a request's phone: international form as lists
// hold it, or a national number read in the claimed country.
func requestPhone(p, country string) (string, bool) {
	if n, err := normalisePhone(p); err == nil {
		return n, true
	}
	if country == "" {
		return "", false
	}
	num, err := phonenumbers.Parse(p, country)
	if err != nil {
		return "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
}

type query struct {
	ix  *index
	now int64
	buf []byte
	out []decision.ListMatch
}

func (q *query) probe(kind Kind, key []byte, entry string) {
	for _, r := range q.ix.lookup(string(key)) { // no allocation for a map lookup
		if r.expires != 0 && q.now >= r.expires {
			continue
		}
		l := q.ix.lists[r.list]
		if l == nil || l.kind != kind {
			continue
		}
		q.out = append(q.out, decision.ListMatch{
			List: l.name, Kind: string(l.kind), Purpose: string(l.purpose), Field: kind.Field(),
			Action: l.action, Exempts: l.exempts, Entry: entry, Note: r.note,
		})
	}
}

func (q *query) plain(kind Kind, v string) {
	if v == "" {
		return
	}
	q.buf = append(append(q.buf[:0], kind.code()), v...)
	q.probe(kind, q.buf, v)
}

func (q *query) hashed(h Hasher, kind Kind, normalised string) {
	stored := h.hash(kind, normalised)
	raw, _ := hex.DecodeString(stored[len(hashedPrefix):])
	q.buf = append(append(q.buf[:0], kind.code()), raw...)
	q.probe(kind, q.buf, stored)
}

func (q *query) ip(a netip.Addr) {
	counts := q.ix.v6[:]
	if a.Is4() {
		counts = q.ix.v4[:]
	}
	for bits := len(counts) - 1; bits >= 0; bits-- {
		if counts[bits] == 0 {
			continue
		}
		p, err := a.Prefix(bits)
		if err != nil {
			continue
		}
		q.buf = appendPrefix(append(q.buf[:0], IP.code()), p)
		before := len(q.out)
		q.probe(IP, q.buf, "")
		for i := before; i < len(q.out); i++ {
			q.out[i].Entry = p.String()
		}
	}
}
