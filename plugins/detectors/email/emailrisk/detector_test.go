package emailrisk

import (
	"context"
	"slices"
	"strings"
	"testing"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// got is a signal reduced to what the tests compare.
type got struct {
	score float64
	value string
}

func detect(t testing.TB, email string) map[string]got {
	t.Helper()
	req := &detectorv1.DetectRequest{
		Checkpoint: "signup",
		Subject:    &detectorv1.Subject{Id: "acct-1", Profile: &detectorv1.Profile{Email: email}},
	}
	resp, err := New(lists(t)).Detect(context.Background(), req)
	if err != nil {
		t.Fatalf("Detect(%q) error: %v", email, err)
	}
	out := map[string]got{}
	for _, s := range resp.GetSignals() {
		if s.GetScore() < 0 || s.GetScore() > 1 || s.GetConfidence() < 0 || s.GetConfidence() > 1 {
			t.Errorf("Detect(%q): signal %s score %v confidence %v out of 0..1", email, s.GetName(), s.GetScore(), s.GetConfidence())
		}
		out[s.GetName()] = got{s.GetScore(), s.GetValue()}
	}
	return out
}

func TestDetectLists(t *testing.T) {
	t.Parallel()
	tests := []struct {
		email string
		want  map[string]got
	}{
		{"someone@mailinator.com", map[string]got{SignalDisposable: {1, "mailinator.com"}}},
		{"Someone@MAILINATOR.COM", map[string]got{SignalDisposable: {1, "mailinator.com"}}},
		{"someone@sub.mailinator.com", map[string]got{SignalDisposable: {1, "sub.mailinator.com"}}},
		{"someone@a.b.guerrillamail.com", map[string]got{SignalDisposable: {1, "a.b.guerrillamail.com"}}},
		{"someone@x.33mail.com", map[string]got{SignalDisposable: {1, "x.33mail.com"}}}, // wildcard list
		{"jane.doe@gmail.com", map[string]got{SignalFreeProvider: {0.1, "gmail.com"}}},
		{"jane.doe@outlook.com", map[string]got{SignalFreeProvider: {0.1, "outlook.com"}}},
		{"jane.doe@yahoo.co.uk", map[string]got{SignalFreeProvider: {0.1, "yahoo.co.uk"}}},
		{"jane.doe@acme-widgets.com", map[string]got{}},
		{"jane.doe@mailinator.com.example.org", map[string]got{}}, // list entry as a prefix, not a parent
		{"jane.doe@acmemailinatorreviews.com", map[string]got{}},  // a list entry as a substring is no match
		{"jane.doe@co.uk", map[string]got{}},                      // a public suffix is never a registrable parent
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			t.Parallel()
			g := detect(t, tt.email)
			for _, name := range []string{SignalDisposable, SignalFreeProvider, SignalInvalid} {
				w, wok := tt.want[name]
				s, ok := g[name]
				if ok != wok || s != w {
					t.Errorf("Detect(%q)[%s] = %v (present %v), want %v (present %v)", tt.email, name, s, ok, w, wok)
				}
			}
		})
	}
}

func TestDetectDisposableEvidence(t *testing.T) {
	t.Parallel()
	resp, err := New(lists(t)).Detect(context.Background(), &detectorv1.DetectRequest{
		Subject: &detectorv1.Subject{Profile: &detectorv1.Profile{Email: "x@sub.mailinator.com"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"domain": "sub.mailinator.com", "matched": "mailinator.com", "list": "disposable-email-domains", "match": "parent"}
	for _, s := range resp.GetSignals() {
		if s.GetName() != SignalDisposable {
			continue
		}
		for k, v := range want {
			if g := s.GetEvidence().GetFields()[k].GetStringValue(); g != v {
				t.Errorf("Detect(sub.mailinator.com) evidence[%s] = %q, want %q", k, g, v)
			}
		}
		return
	}
	t.Fatalf("Detect(sub.mailinator.com) = %v, want a %s signal", resp.GetSignals(), SignalDisposable)
}

func TestDetectInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct{ email, reason string }{
		{"plainaddress", reasonAt},
		{"two@@example.com", reasonAt},
		{"a@b@example.com", reasonAt},
		{"@example.com", reasonLocalLength},
		{strings.Repeat("a", 65) + "@example.com", reasonLocalLength},
		{".john@example.com", reasonLocalDots},
		{"john.@example.com", reasonLocalDots},
		{"jo..hn@example.com", reasonLocalDots},
		{"john smith@example.com", reasonLocalChars},
		{"john(comment)@example.com", reasonLocalChars},
		{"john@", reasonDomain},
		{"john@localhost", reasonDomainLabels},
		{"john@example..com", reasonDomain},
		{"john@-example.com", reasonDomain},
		{"john@exa_mple.com", reasonDomain},
		{"john@example.c", reasonTLD},
		{"john@127.0.0.1", reasonTLD},
		{strings.Repeat("a", 60) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com", reasonTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			t.Parallel()
			g := detect(t, tt.email)
			if want := (got{1, tt.reason}); g[SignalInvalid] != want || len(g) != 1 {
				t.Errorf("Detect(%q) = %v, want only %s %v", tt.email, g, SignalInvalid, want)
			}
		})
	}
}

func TestDetectValidAddressesAreNotInvalid(t *testing.T) {
	t.Parallel()
	for _, email := range []string{
		"john.smith@example.com",
		"o'brien@example.ie",
		"user+tag@example.com",
		"josé.garcía@example.es",
		"info@bücher.de",
		"a@b.co",
		"first_last-1@sub.example.travel",
		" padded@example.com ",
	} {
		t.Run(email, func(t *testing.T) {
			t.Parallel()
			if g := detect(t, email); len(g[SignalInvalid].value) > 0 {
				t.Errorf("Detect(%q) = %v, want no %s", email, g, SignalInvalid)
			}
		})
	}
}

func TestDetectNoEmail(t *testing.T) {
	t.Parallel()
	for _, req := range []*detectorv1.DetectRequest{
		{},
		{Subject: &detectorv1.Subject{Id: "a"}},
		{Subject: &detectorv1.Subject{Profile: &detectorv1.Profile{Email: "  "}}},
	} {
		resp, err := New(lists(t)).Detect(context.Background(), req)
		if err != nil || len(resp.GetSignals()) != 0 {
			t.Errorf("Detect(%v) = %v, %v, want no signal", req, resp.GetSignals(), err)
		}
	}
}

func TestDetectRandomLocalPart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		email    string
		min, max float64 // the score's bounds; 0, 0 means no signal
	}{
		// real-looking names: no signal
		{"john.smith@example.com", 0, 0},
		{"johnsmith@example.com", 0, 0},
		{"maria.garcia87@example.com", 0, 0},
		{"fred1987@example.com", 0, 0},
		{"jessica_1990@example.com", 0, 0},
		{"wojciech.szczepanski@example.pl", 0, 0},
		{"hans.strzelczyk@example.de", 0, 0},
		{"frank.schmidt@example.de", 0, 0},
		{"anna-lena.mueller@example.de", 0, 0},
		{"nguyen.van.an@example.vn", 0, 0},
		{"j.r.r.tolkien@example.com", 0, 0},
		{"christopherson@example.com", 0, 0},
		{"kristjansdottir@example.is", 0, 0},
		{"mcknight@example.com", 0, 0},
		{"li.wei@example.cn", 0, 0},
		{"dmitriy.vasilyev@example.ru", 0, 0},
		{"john.smith+marketplace@gmail.com", 0, 0},
		{"josé.garcía@example.es", 0, 0},
		// generated
		{"a3f9c2e8b1d74e6f@example.com", 0.9, 1},
		{"9f8e7d6c5b4a@example.com", 0.9, 1},
		{"jsmith_8f3a9c@example.com", 0.8, 1},
		{"x7k9q2m4p8@example.com", 0.7, 1},
		{"qwxzkjvbn@example.com", 0.7, 1},
		{"sjdfhgksjdhfg@example.com", 0.7, 1},
		{"user83749261@example.com", 0.6, 1},
		{"kx9m2p@example.com", 0.6, 1},
		// Gmail ignores dots, so dots must not hide a generated string
		{"x.7.k.9.q.2.m.4@gmail.com", 0.7, 1},
		{"A3F9C2E8+shop@gmail.com", 0.5, 1},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			t.Parallel()
			s, ok := detect(t, tt.email)[SignalRandomLocalPart]
			switch {
			case tt.max == 0 && ok:
				t.Errorf("Detect(%q)[%s] = %v, want no signal", tt.email, SignalRandomLocalPart, s.score)
			case tt.max > 0 && !ok:
				t.Errorf("Detect(%q)[%s] absent, want a score in [%v, %v]", tt.email, SignalRandomLocalPart, tt.min, tt.max)
			case ok && (s.score < tt.min || s.score > tt.max):
				t.Errorf("Detect(%q)[%s] = %v, want a score in [%v, %v]", tt.email, SignalRandomLocalPart, s.score, tt.min, tt.max)
			}
		})
	}
}

func TestDetectPlusAlias(t *testing.T) {
	t.Parallel()
	tests := []struct {
		email string
		want  string // the signal's value, "" for none
	}{
		{"jane+jobs@example.com", "plus_tag"},
		{"jane+@example.com", "plus_tag"},
		{"j.a.n.e.doe@gmail.com", "dots"},
		{"j.a.n.e+x@googlemail.com", "plus_tag_and_dots"},
		{"jane.doe@gmail.com", ""},
		{"jane.m.doe@gmail.com", ""},
		{"j.a.n.e.doe@example.com", ""}, // only Gmail ignores dots
		{"jane@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			t.Parallel()
			s, ok := detect(t, tt.email)[SignalPlusAlias]
			if ok != (tt.want != "") || s.value != tt.want || (ok && s.score != 0.2) {
				t.Errorf("Detect(%q)[%s] = %v (present %v), want value %q score 0.2", tt.email, SignalPlusAlias, s, ok, tt.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	d, err := New(lists(t)).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.GetName() != "email" || d.GetVersion() != "1.0.0" || d.GetLatencyBudget().AsDuration().Milliseconds() != 20 {
		t.Errorf("Describe() = %v, want email 1.0.0 with a 20ms budget", d)
	}
	for _, c := range []string{"signup", "login", "profile_update"} {
		if !slices.Contains(d.GetCheckpoints(), c) {
			t.Errorf("Describe().Checkpoints = %v, want %q among them", d.GetCheckpoints(), c)
		}
	}
	// Every signal Detect can emit must be declared, or the host rejects it.
	for _, email := range []string{"bad", "x7k9q2m4p8+a@mailinator.com", "j.a.n.e.doe@gmail.com"} {
		for name := range detect(t, email) {
			if !slices.Contains(d.GetSignals(), name) {
				t.Errorf("Detect(%q) emitted %s, which Describe() = %v does not declare", email, name, d.GetSignals())
			}
		}
	}
}

func TestShippedLists(t *testing.T) {
	t.Parallel()
	l := lists(t)
	for name, tt := range map[string]struct {
		list domainList
		min  int
		has  []string
	}{
		"disposable": {l.Disposable, 100_000, []string{"mailinator.com", "guerrillamail.com", "10minutemail.com"}},
		"wildcard":   {l.DisposableWildcard, 100, []string{"33mail.com"}},
		"free":       {l.Free, 5_000, []string{"gmail.com", "outlook.com", "yahoo.com", "proton.me"}},
	} {
		if len(tt.list) < tt.min {
			t.Errorf("%s list has %d domains, want at least %d", name, len(tt.list), tt.min)
		}
		if !slices.IsSorted(tt.list) {
			t.Errorf("%s list is not sorted; rerun email/data/update.sh", name)
		}
		for _, d := range tt.has {
			if !tt.list.has(d) {
				t.Errorf("%s list lacks %q", name, d)
			}
		}
	}
	for _, d := range []string{"gmail.com", "outlook.com", "example.com"} {
		if l.Disposable.has(d) {
			t.Errorf("disposable list has %q", d)
		}
	}
	for _, d := range l.Free {
		if l.Disposable.has(d) {
			t.Fatalf("free list has disposable %q; email/data/update.sh should have removed it", d)
		}
	}
}

func BenchmarkDetect(b *testing.B) {
	d := New(lists(b))
	req := &detectorv1.DetectRequest{Subject: &detectorv1.Subject{Profile: &detectorv1.Profile{Email: "x7k9q2m4p8+shop@sub.mailinator.com"}}}
	for b.Loop() {
		if _, err := d.Detect(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
