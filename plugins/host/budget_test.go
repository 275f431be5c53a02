package host

import (
	"strings"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

// TestDeclaredBudgetIsNotADeadline: a detector that declares 10ms and
// answers in 300ms (a loaded machine) is waited for within the checkpoint's
// budget: several detectors running in parallel share the decision's time
// instead of each failing open at its own few milliseconds.
func TestDeclaredBudgetIsNotADeadline(t *testing.T) {
	dc := detectorConfig("slow", map[string]string{"budget": "10ms"})
	dc.Timeout = patience
	h, _ := startHost(t, Config{Detectors: []DetectorConfig{dc}, Budgets: Budgets{"login": patience}})
	req := request("login", "slow")
	req.Attributes["sleep"] = "300ms"
	got := collect(h, req, patience)
	if len(got) != 1 || got[0].Status != decision.StatusOK {
		t.Fatalf("Collect(300ms answer, 10ms declared, %v budget) = %+v, want ok", patience, got)
	}
	if s := statusOf(h, "slow"); s.Budget != 10*time.Millisecond || s.Timeout != patience {
		t.Errorf("Status() budget %v timeout %v, want the declared 10ms reported and the configured %v as timeout", s.Budget, s.Timeout, patience)
	}
}

func TestBudgets(t *testing.T) {
	t.Parallel()
	b := Budgets{DefaultBudgetKey: 150 * time.Millisecond, "signup": 100 * time.Millisecond, "withdrawal": 250 * time.Millisecond}
	for cp, want := range map[string]time.Duration{"signup": 100 * time.Millisecond, "withdrawal": 250 * time.Millisecond, "login": 150 * time.Millisecond} {
		if got := b.For(cp); got != want {
			t.Errorf("For(%q) = %v, want %v", cp, got, want)
		}
	}
	if got := (Budgets{"signup": time.Second}).For("login"); got != 0 {
		t.Errorf("For(unlisted, no default) = %v, want 0", got)
	}
	err := Budgets{"signup": 0, "login": -time.Second}.Validate()
	if err == nil || !strings.Contains(err.Error(), `"signup"`) || !strings.Contains(err.Error(), `"login"`) {
		t.Errorf("Validate(zero, negative) = %v, want both named", err)
	}
	if _, err := New(Config{Budgets: Budgets{"signup": -1}}, nil); err == nil {
		t.Errorf("New(negative budget) = nil error, want the configuration refused")
	}
}
