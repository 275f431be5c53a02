package scenarios

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gavel/gavel/decision"
)

// Summary counts one group of journeys by their worst action.
type Summary struct {
	Kind      string
	Journeys  int
	Decisions int
	ByAction  [decision.Suspend + 1]int
	// Drivers counts the reason codes that set each journey's worst action
	// when it was warn or worse.
	Drivers map[string]int
}

// TopDrivers names the n reason codes that most often set the worst action.
func (s Summary) TopDrivers(n int) string {
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range s.Drivers {
		all = append(all, kv{k, v})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Or(cmp.Compare(b.v, a.v), strings.Compare(a.k, b.k)) })
	var parts []string
	for i := 0; i < len(all) && i < n; i++ {
		parts = append(parts, fmt.Sprintf("%s %d", all[i].k, all[i].v))
	}
	return strings.Join(parts, ", ")
}

// AtLeast is the share of journeys whose worst action is a or more severe.
func (s Summary) AtLeast(a decision.Action) float64 {
	if s.Journeys == 0 {
		return 0
	}
	n := 0
	for x := a; x <= decision.Suspend; x++ {
		n += s.ByAction[x]
	}
	return float64(n) / float64(s.Journeys)
}

// Share is the share of journeys whose worst action is exactly a.
func (s Summary) Share(a decision.Action) float64 {
	if s.Journeys == 0 {
		return 0
	}
	return float64(s.ByAction[a]) / float64(s.Journeys)
}

// Report is a suite's results.
type Report struct {
	Kinds  []Summary // honest kinds, then fraud kinds, each by name
	Honest Summary
	Fraud  Summary
	// RuleCost is, per reason code, how many honest journeys it reached at
	// warn and at challenge or worse, most costly first.
	RuleCost []RuleCost
}

// RuleCost is the friction one reason code put on honest people.
type RuleCost struct {
	Code                 string
	Warned, ChallengedUp int
}

// Targets are the goals.
type Targets struct {
	FraudCaught      float64 // at least this share of fraud at challenge or worse
	HonestChallenged float64 // at most this share of honest people at challenge or worse
	HonestSuspended  float64 // at most this share suspended
}

// DefaultTargets are the goals the suite asserts.
var DefaultTargets = Targets{FraudCaught: 0.95, HonestChallenged: 0.01, HonestSuspended: 0.001}

// Summarise builds the report of outcomes.
func Summarise(out []Outcome) Report {
	kinds := map[string]*Summary{}
	r := Report{Honest: Summary{Kind: "all honest"}, Fraud: Summary{Kind: "all fraud"}}
	costs := map[string]*RuleCost{}
	for _, o := range out {
		k := kinds[o.Journey.Kind]
		if k == nil {
			k = &Summary{Kind: o.Journey.Kind, Drivers: map[string]int{}}
			kinds[o.Journey.Kind] = k
		}
		total := &r.Honest
		if o.Journey.Fraud() {
			total = &r.Fraud
		}
		for _, s := range []*Summary{k, total} {
			s.Journeys++
			s.Decisions += o.Decisions
			s.ByAction[o.Worst]++
		}
		for _, c := range o.WorstCodes {
			k.Drivers[c]++
		}
		if o.Journey.Fraud() {
			continue
		}
		for code, a := range o.Reasons {
			c := costs[code]
			if c == nil {
				c = &RuleCost{Code: code}
				costs[code] = c
			}
			switch {
			case a >= decision.Challenge:
				c.ChallengedUp++
			case a == decision.Warn:
				c.Warned++
			}
		}
	}
	for _, k := range kinds {
		r.Kinds = append(r.Kinds, *k)
	}
	slices.SortFunc(r.Kinds, func(a, b Summary) int {
		if fa, fb := IsFraud(a.Kind), IsFraud(b.Kind); fa != fb {
			if fa {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	for _, c := range costs {
		r.RuleCost = append(r.RuleCost, *c)
	}
	slices.SortFunc(r.RuleCost, func(a, b RuleCost) int {
		return cmp.Or(cmp.Compare(b.ChallengedUp, a.ChallengedUp), cmp.Compare(b.Warned, a.Warned), strings.Compare(a.Code, b.Code))
	})
	return r
}

// Check returns the targets the report misses, each as a sentence.
func (r Report) Check(t Targets) []string {
	var miss []string
	if got := r.Fraud.AtLeast(decision.Challenge); got < t.FraudCaught {
		miss = append(miss, fmt.Sprintf("fraud at challenge or worse = %.2f %%, want >= %.2f %%", 100*got, 100*t.FraudCaught))
	}
	if got := r.Honest.AtLeast(decision.Challenge); got > t.HonestChallenged {
		miss = append(miss, fmt.Sprintf("honest people challenged or worse = %.2f %%, want <= %.2f %%", 100*got, 100*t.HonestChallenged))
	}
	if got := r.Honest.Share(decision.Suspend); got > t.HonestSuspended {
		miss = append(miss, fmt.Sprintf("honest people suspended = %.2f %%, want <= %.2f %%", 100*got, 100*t.HonestSuspended))
	}
	return miss
}

// Table renders the report as Markdown: per kind, the share of journeys by
// worst action, and for honest people the rules that cost them most.
func (r Report) Table() string {
	var b strings.Builder
	b.WriteString("| kind | journeys | decisions | allow | warn | challenge | restrict | suspend | ≥ challenge | reasons setting the worst action |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	row := func(s Summary, bold bool) {
		f := "%s"
		if bold {
			f = "**%s**"
		}
		fmt.Fprintf(&b, "| "+f+" | %d | %d | %s | %s | %s | %s | %s | "+f+" | %s |\n", s.Kind, s.Journeys, s.Decisions,
			pct(s.Share(decision.Allow)), pct(s.Share(decision.Warn)), pct(s.Share(decision.Challenge)),
			pct(s.Share(decision.Restrict)), pct(s.Share(decision.Suspend)), pct(s.AtLeast(decision.Challenge)), s.TopDrivers(3))
	}
	for _, k := range r.Kinds {
		if !IsFraud(k.Kind) {
			row(k, false)
		}
	}
	row(r.Honest, true)
	for _, k := range r.Kinds {
		if IsFraud(k.Kind) {
			row(k, false)
		}
	}
	row(r.Fraud, true)
	b.WriteString("\nHonest friction by reason (honest journeys the reason reached):\n\n")
	b.WriteString("| reason | at warn | at challenge or worse |\n|---|---:|---:|\n")
	for _, c := range r.RuleCost {
		fmt.Fprintf(&b, "| %s | %d | %d |\n", c.Code, c.Warned, c.ChallengedUp)
	}
	return b.String()
}

func pct(f float64) string { return fmt.Sprintf("%.2f %%", 100*f) }
