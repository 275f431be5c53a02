package console

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
)

// periods the Rules page offers.
var periods = []struct {
	Key, Label string
	Days       int
}{
	{"7d", "7 days", 7},
	{"30d", "30 days", 30},
	{"90d", "90 days", 90},
	{"365d", "365 days", 365},
}

type ruleRow struct {
	R *adminv1.RuleStats
	// Spark is the daily series as JSON for the sparkline: [fired, overturned].
	Spark string
	// Summary says the series in words, for screen readers and without JS.
	Summary string
}

type rulesData struct {
	Period  string
	Periods any
	Since   time.Time
	Rows    []ruleRow
	Days    string // JSON array of days
	Total   int64
}

func (c *Console) rulesPage(w http.ResponseWriter, r *http.Request, s *session) {
	key := r.URL.Query().Get("period")
	days := 30
	found := false
	for _, p := range periods {
		if p.Key == key {
			days, found = p.Days, true
		}
	}
	if !found {
		key = "30d"
	}
	now := c.now().UTC()
	since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(days - 1))
	resp, err := c.admin.GetRuleStats(r.Context(), connect.NewRequest(&adminv1.GetRuleStatsRequest{
		Since: timestamppb.New(since), Daily: true,
	}))
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	rules := resp.Msg.GetRules()
	// The rules that hurt honest users most first: most decisions
	// overturned on appeal, then the highest overturn rate, then the most
	// fired.
	slices.SortFunc(rules, func(a, b *adminv1.RuleStats) int {
		return cmp.Or(cmp.Compare(b.GetOverturned(), a.GetOverturned()),
			cmp.Compare(b.GetOverturnRate(), a.GetOverturnRate()),
			cmp.Compare(b.GetFired(), a.GetFired()),
			cmp.Compare(a.GetCode(), b.GetCode()))
	})
	d := rulesData{Period: key, Periods: periods, Since: since}
	daysJSON, _ := json.Marshal(resp.Msg.GetDays())
	d.Days = string(daysJSON)
	for _, rs := range rules {
		spark, _ := json.Marshal([2][]int64{rs.GetFiredDaily(), rs.GetOverturnedDaily()})
		d.Rows = append(d.Rows, ruleRow{R: rs, Spark: string(spark), Summary: sparkSummary(rs)})
		d.Total += rs.GetFired()
	}
	v := &view{Title: "Rules", Page: "rules", Data: d}
	c.fill(v, s)
	c.render(w, r, http.StatusOK, "rules", v)
}

func sparkSummary(rs *adminv1.RuleStats) string {
	f := rs.GetFiredDaily()
	if len(f) == 0 {
		return ""
	}
	peak, peakAt := int64(0), 0
	for i, n := range f {
		if n > peak {
			peak, peakAt = n, i
		}
	}
	return "fired per day, peak " + itoa(peak) + " on day " + itoa(int64(peakAt+1)) + " of " + itoa(int64(len(f))) + "; last day " + itoa(f[len(f)-1])
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
