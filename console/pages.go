package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

//go:embed templates/*.html
var templateFS embed.FS

// view is what every page's template gets.
type view struct {
	Title string
	Page  string // the navigation entry to mark current
	Who   Principal
	Open  bool
	CSRF  string
	Nav   []navItem
	// Notice and Error are messages at the top of the page.
	Notice, Error string
	Data          any
}

func (c *Console) fill(v *view, s *session) {
	v.Who, v.Open, v.CSRF, v.Nav = s.who, c.open, s.csrf, c.navFor(s.who)
}

type pages struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"when":     when,
	"ago":      ago,
	"dur":      dur,
	"action":   actionName,
	"pct":      func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"json":     prettyJSON,
	"has":      func(p Principal, roles ...string) bool { return p.Has(roles...) },
	"score":    func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"contribs": contributionsChart,
	"deltas":   deltaChart,
	"changes":  reasonChanges,
	"lower":    strings.ToLower,
	"join":     strings.Join,
	"sum64":    func(a, b int64) int64 { return a + b },
	"len64":    func(n int) int64 { return int64(n) },
	"dict":     dict,
	"asset":    assetPath,
	"short":    shortID,
	"list":     func(v ...string) []string { return v },
	"purpose":  func(p fmt.Stringer) string { return strings.ToLower(strings.TrimPrefix(p.String(), "PURPOSE_")) },
	"status": func(s decisionv1.DetectorStatus) string {
		return strings.ToLower(strings.TrimPrefix(s.String(), "DETECTOR_STATUS_"))
	},
}

// parsePages parses each page template with the layout.
func parsePages() (*pages, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", n, err)
		}
		p.byName[base] = t
	}
	return p, nil
}

// render writes a whole page, or only its "main" block for htmx requests
// that ask for a fragment.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, name string, v *view) {
	t := c.pages.byName[name]
	if t == nil {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	tmpl := "layout.html"
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Request-Type") != "full" {
		if f := t.Lookup("fragment"); f != nil {
			tmpl = "fragment"
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, v); err != nil {
		c.log.Error("console: render", "page", name, "error", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

func when(ts *timestamppb.Timestamp) string {
	if ts == nil || (ts.GetSeconds() == 0 && ts.GetNanos() == 0) {
		return ""
	}
	return ts.AsTime().UTC().Format("2006-01-02 15:04 UTC")
}

// ago says how long ago ts was, to the minute.
func ago(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	d := time.Since(ts.AsTime())
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
}

func dur(d *durationpb.Duration) string {
	if d == nil {
		return "–"
	}
	x := d.AsDuration()
	switch {
	case x < time.Millisecond:
		return fmt.Sprintf("%d µs", x.Microseconds())
	case x < time.Second:
		return fmt.Sprintf("%.1f ms", float64(x)/float64(time.Millisecond))
	default:
		return x.Round(time.Millisecond).String()
	}
}

func actionName(a decisionv1.Action) string {
	if a == decisionv1.Action_ACTION_UNSPECIFIED {
		return "none"
	}
	return strings.ToLower(strings.TrimPrefix(a.String(), "ACTION_"))
}

func prettyJSON(v any) string {
	var x any = v
	switch t := v.(type) {
	case *structpb.Struct:
		if t == nil {
			return ""
		}
		x = t.AsMap()
	case []*structpb.Struct:
		l := make([]any, len(t))
		for i, s := range t {
			l[i] = s.AsMap()
		}
		x = l
	}
	b, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// contribution is one model feature's share of the score.
type contribution struct {
	Feature      string
	Value        string
	Contribution float64
}

// contributionsOf reads the model's per-feature contributions from a
// signal's evidence (evidence.top_features: [{feature, value, contribution}]).
func contributionsOf(ev *structpb.Struct) []contribution {
	list := ev.GetFields()["top_features"].GetListValue().GetValues()
	out := make([]contribution, 0, len(list))
	for _, v := range list {
		f := v.GetStructValue().GetFields()
		name := f["feature"].GetStringValue()
		if name == "" {
			continue
		}
		val := f["value"]
		s := val.GetStringValue()
		if _, ok := val.GetKind().(*structpb.Value_NumberValue); ok {
			s = fmt.Sprintf("%g", val.GetNumberValue())
		}
		out = append(out, contribution{Feature: name, Value: s, Contribution: f["contribution"].GetNumberValue()})
	}
	return out
}

// barRow is one row of a server-drawn horizontal bar chart.
type barRow struct {
	Label string
	Text  string
	Value float64
}

// contributionsChart draws the contributions as a diverging bar chart in
// SVG: towards fraud to the right, away from it to the left.
func contributionsChart(cs []contribution) template.HTML {
	rows := make([]barRow, len(cs))
	for i, c := range cs {
		rows[i] = barRow{Label: c.Feature + " = " + c.Value, Text: fmt.Sprintf("%+.3f", c.Contribution), Value: c.Contribution}
	}
	return divergingBars("Model feature contributions to the log-odds of fraud", rows)
}

// deltaChart draws reason deltas (after − before) as diverging bars.
func deltaChart(rows []barRow) template.HTML {
	return divergingBars("Change in each reason's hits under the candidate", rows)
}

func divergingBars(title string, rows []barRow) template.HTML {
	const (
		width  = 640
		labelW = 260
		rowH   = 26
		textW  = 70
	)
	maxAbs := 0.0
	for _, r := range rows {
		maxAbs = math.Max(maxAbs, math.Abs(r.Value))
	}
	if maxAbs == 0 {
		maxAbs = 1
	}
	plot := float64(width - labelW - textW)
	mid := float64(labelW) + plot/2
	h := rowH*len(rows) + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bars" viewBox="0 0 %d %d" role="img" aria-label="%s" preserveAspectRatio="xMinYMin meet">`, width, h, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="0" x2="%.1f" y2="%d"/>`, mid, mid, h)
	for i, r := range rows {
		y := i*rowH + 4
		w := math.Abs(r.Value) / maxAbs * (plot / 2)
		x, cls := mid, "pos"
		if r.Value < 0 {
			x, cls = mid-w, "neg"
		}
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%d">%s</text>`, labelW-8, y+17, template.HTMLEscapeString(clip(r.Label, 36)))
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%d" width="%.1f" height="%d"><title>%s: %s</title></rect>`,
			cls, x, y+3, math.Max(w, 1), rowH-8, template.HTMLEscapeString(r.Label), template.HTMLEscapeString(r.Text))
		fmt.Fprintf(&b, `<text class="val" x="%d" y="%d">%s</text>`, width-textW+6, y+17, template.HTMLEscapeString(r.Text))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// dict builds a map for passing several values to a template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// shortID abbreviates a UUIDv7 by its end: its start is the time, shared
// by ids made close together.
func shortID(id string) string {
	if len(id) <= 12 {
		return id
	}
	return "…" + id[len(id)-12:]
}
