package lists

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/gavel/gavel/decision"
)

// ReasonListBlock is the reason a block-list hit records.
const ReasonListBlock = "LIST_BLOCK"

// Bounds of what one call may carry.
const (
	MaxNoteChars      = 1000
	MaxDescChars      = 1000
	MaxValuesPerCall  = 1000    // add and remove
	MaxImportRows     = 1000000 // one import
	MaxEntriesPage    = 1000
	defaultEntryPage  = 100
	maxReportedErrors = 1000
)

var (
	namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	codePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)
)

// blockActions are the actions a block list may take.
var blockActions = map[string]bool{"warn": true, "challenge": true, "restrict": true, "suspend": true}

// Service is what operators do with lists; the RPC edge calls it. It is
// safe for concurrent use.
type Service struct {
	store  Store
	hasher Hasher
	now    func() time.Time
}

// NewService returns the lists service over store.
func NewService(store Store, hasher Hasher) *Service {
	return &Service{store: store, hasher: hasher, now: time.Now}
}

// Spec is a new list.
type Spec struct {
	Name        string
	Kind        Kind
	Purpose     Purpose
	Action      string   // block: warn, challenge, restrict (default) or suspend
	Exempts     []string // allow: reason codes, at least one
	Description string
}

func bad(verr *decision.ValidationError, field, format string, args ...any) {
	*verr = append(*verr, decision.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

func checkName(verr *decision.ValidationError, name string) {
	if !namePattern.MatchString(name) {
		bad(verr, "name", "%q is not a list name (lower-case letters, digits, '.', '_', '-'; at most 64)", name)
	}
}

func checkText(verr *decision.ValidationError, field, v string, max int) {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		bad(verr, field, "must be UTF-8 text of at most %d characters", max)
	}
}

// Create creates a list. Bad specs are a decision.ValidationError naming
// each field; a taken name is ErrExists.
func (s *Service) Create(ctx context.Context, sp Spec, actor string) (List, error) {
	var verr decision.ValidationError
	checkName(&verr, sp.Name)
	if !sp.Kind.Valid() {
		bad(&verr, "kind", "%q is not one of %v", sp.Kind, Kinds)
	}
	checkText(&verr, "description", sp.Description, MaxDescChars)
	switch sp.Purpose {
	case Block:
		if sp.Action == "" {
			sp.Action = "restrict"
		}
		if !blockActions[sp.Action] {
			bad(&verr, "action", "%q is not warn, challenge, restrict or suspend", sp.Action)
		}
		if len(sp.Exempts) > 0 {
			bad(&verr, "exempts", "only allow lists exempt reasons")
		}
	case Allow:
		if sp.Action != "" {
			bad(&verr, "action", "an allow list takes no action; it exempts reasons")
		}
		if len(sp.Exempts) == 0 {
			bad(&verr, "exempts", "an allow list must name the reason codes it exempts")
		}
		for i, c := range sp.Exempts {
			if !codePattern.MatchString(c) {
				bad(&verr, fmt.Sprintf("exempts[%d]", i), "%q is not a reason code", c)
			}
		}
	default:
		bad(&verr, "purpose", "%q is not block or allow", sp.Purpose)
	}
	if len(verr) > 0 {
		return List{}, verr
	}
	now := s.now()
	return s.store.CreateList(ctx, List{
		Name: sp.Name, Kind: sp.Kind, Purpose: sp.Purpose, Action: sp.Action,
		Exempts: sp.Exempts, Description: sp.Description, CreatedBy: actor, CreatedAt: now, UpdatedAt: now,
	}, actor, now)
}

// Get returns a list by name, or ErrNotFound.
func (s *Service) Get(ctx context.Context, name string) (List, error) {
	return s.store.GetList(ctx, name)
}

// Lists returns every list.
func (s *Service) Lists(ctx context.Context) ([]List, error) { return s.store.Lists(ctx) }

// Add adds values to a list with a note and an expiry (zero: never); a
// value already there gets the new note and expiry. Every bad value is
// reported at once (a decision.ValidationError naming values[i]) and then
// nothing is added.
func (s *Service) Add(ctx context.Context, name string, values []string, note string, expires time.Time, actor string) (int, error) {
	l, err := s.store.GetList(ctx, name)
	if err != nil {
		return 0, err
	}
	var verr decision.ValidationError
	if len(values) == 0 {
		bad(&verr, "values", "at least one value is required")
	}
	if len(values) > MaxValuesPerCall {
		bad(&verr, "values", "at most %d values per call; import larger sets", MaxValuesPerCall)
	}
	checkText(&verr, "note", note, MaxNoteChars)
	now := s.now()
	if !expires.IsZero() && !expires.After(now) {
		bad(&verr, "expires", "must be in the future")
	}
	entries := make([]Entry, 0, len(values))
	seen := make(map[string]bool, len(values))
	for i, v := range values {
		k, err := s.hasher.Key(l.Kind, v)
		if err != nil {
			bad(&verr, fmt.Sprintf("values[%d]", i), "%s: %v", l.Kind, err)
			continue
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		entries = append(entries, Entry{Key: k, Note: note, AddedBy: actor, AddedAt: now, ExpiresAt: expires})
	}
	if len(verr) > 0 {
		return 0, verr
	}
	if err := s.store.PutEntries(ctx, l, entries, OpAdd, "", actor, now); err != nil {
		return 0, err
	}
	return len(entries), nil
}

// Remove removes values from a list and returns how many were there.
func (s *Service) Remove(ctx context.Context, name string, values []string, actor string) (int, error) {
	l, err := s.store.GetList(ctx, name)
	if err != nil {
		return 0, err
	}
	var verr decision.ValidationError
	if len(values) == 0 {
		bad(&verr, "values", "at least one value is required")
	}
	if len(values) > MaxValuesPerCall {
		bad(&verr, "values", "at most %d values per call", MaxValuesPerCall)
	}
	keys := make([]string, 0, len(values))
	for i, v := range values {
		k, err := s.hasher.Key(l.Kind, v)
		if err != nil {
			bad(&verr, fmt.Sprintf("values[%d]", i), "%s: %v", l.Kind, err)
			continue
		}
		keys = append(keys, k)
	}
	if len(verr) > 0 {
		return 0, verr
	}
	return s.store.RemoveEntries(ctx, l, keys, actor, s.now())
}

// ErrBadPageToken is returned for a page token Entries did not issue.
var ErrBadPageToken = errors.New("invalid page token")

// Entries returns a page of a list's entries in key order and the token of
// the next page ("" on the last).
func (s *Service) Entries(ctx context.Context, name string, pageSize int, token string) (List, []Entry, string, error) {
	l, err := s.store.GetList(ctx, name)
	if err != nil {
		return l, nil, "", err
	}
	if pageSize <= 0 {
		pageSize = defaultEntryPage
	}
	pageSize = min(pageSize, MaxEntriesPage)
	after := ""
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(b) == 0 {
			return l, nil, "", ErrBadPageToken
		}
		after = string(b)
	}
	es, err := s.store.Entries(ctx, l.ID, after, pageSize+1)
	if err != nil {
		return l, nil, "", err
	}
	next := ""
	if len(es) > pageSize {
		es = es[:pageSize]
		next = base64.RawURLEncoding.EncodeToString([]byte(es[pageSize-1].Key))
	}
	return l, es, next, nil
}

// History returns a list's audit trail, newest first.
func (s *Service) History(ctx context.Context, name string, beforeSeq int64, limit int) (List, []Change, error) {
	l, err := s.store.GetList(ctx, name)
	if err != nil {
		return l, nil, err
	}
	if limit <= 0 || limit > MaxEntriesPage {
		limit = defaultEntryPage
	}
	cs, err := s.store.ListChanges(ctx, l.ID, beforeSeq, limit)
	return l, cs, err
}

// Row is one line of a bulk import.
type Row struct {
	Line      int // 1-based, for error messages
	Value     string
	Note      string
	ExpiresAt time.Time
}

// ImportResult says what an import did.
type ImportResult struct {
	Imported int
	// Skipped are the bad lines left out (only when skipping bad lines).
	Skipped decision.ValidationError
}

// Import adds rows to a list in one transaction, as one audited change.
// With skipBad false (the default of the CLI) any bad line fails the whole
// import with a decision.ValidationError naming every bad line ("line N"),
// and nothing is imported; with skipBad true the good lines are imported
// and the bad ones reported in the result.
func (s *Service) Import(ctx context.Context, name string, rows []Row, skipBad bool, source, actor string) (ImportResult, error) {
	l, err := s.store.GetList(ctx, name)
	if err != nil {
		return ImportResult{}, err
	}
	var verr decision.ValidationError
	if len(rows) > MaxImportRows {
		bad(&verr, "rows", "at most %d rows per import", MaxImportRows)
		return ImportResult{}, verr
	}
	now := s.now()
	entries := make([]Entry, 0, len(rows))
	index := make(map[string]int, len(rows))
	nbad := 0
	for _, r := range rows {
		field := fmt.Sprintf("line %d", r.Line)
		k, err := s.hasher.Key(l.Kind, r.Value)
		switch {
		case err != nil:
			err = fmt.Errorf("%s: %v", l.Kind, err)
		case !utf8.ValidString(r.Note) || utf8.RuneCountInString(r.Note) > MaxNoteChars:
			err = fmt.Errorf("note must be UTF-8 text of at most %d characters", MaxNoteChars)
		case !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now):
			err = errors.New("expires_at is in the past")
		}
		if err != nil {
			nbad++
			if len(verr) < maxReportedErrors {
				bad(&verr, field, "%v", err)
			}
			continue
		}
		e := Entry{Key: k, Note: r.Note, AddedBy: actor, AddedAt: now, ExpiresAt: r.ExpiresAt}
		if i, dup := index[k]; dup {
			entries[i] = e // the later line wins
			continue
		}
		index[k] = len(entries)
		entries = append(entries, e)
	}
	if nbad > len(verr) {
		bad(&verr, "rows", "%d more bad lines not listed", nbad-len(verr))
	}
	if len(verr) > 0 && !skipBad {
		return ImportResult{}, verr
	}
	detail := fmt.Sprintf("imported %d entries from %s (%d lines, %d bad lines skipped)", len(entries), source, len(rows), nbad)
	if len(entries) > 0 {
		if err := s.store.PutEntries(ctx, l, entries, OpImport, detail, actor, now); err != nil {
			return ImportResult{}, err
		}
	}
	return ImportResult{Imported: len(entries), Skipped: verr}, nil
}
