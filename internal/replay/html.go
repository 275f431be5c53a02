package replay

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/gavel/gavel/decision"
)

// WriteHTML writes the report as one self-contained HTML page: inline CSS
// and SVG charts, no script and nothing fetched from the network.
func (r *Report) WriteHTML(w io.Writer) error {
	return page.Execute(w, r.view())
}

type htmlView struct {
	*Report
	Title       string
	ElapsedText string
	Generated   string
	Heat        heatmap
	Bars        []bar
	BarsH       int
	ChangedPct  string
	Actions     []decision.Action
}

type heatmap struct {
	Cells  []heatCell
	Labels []heatLabel
	Size   int
}

type heatCell struct {
	X, Y, Size int
	Fill       string
	Text       string
	TextFill   string
	Title      string
}

type heatLabel struct {
	X, Y   int
	Text   string
	Anchor string
}

type bar struct {
	Y                int
	Code             string
	BeforeW, AfterW  int
	Before, After    int64
	Delta            string
	DeltaFill        string
	LabelX, NumbersX int
}

const (
	cellSize = 64
	heatLeft = 110
	heatTop  = 40
	barLeft  = 260
	barMax   = 360
)

func (r *Report) view() htmlView {
	v := htmlView{Report: r, Title: r.title(), ElapsedText: r.Elapsed.Round(time.Millisecond).String(), Generated: time.Now().UTC().Format(time.RFC3339), ChangedPct: percent(r.Changed, r.Replayed), Actions: Actions}
	var peak int64
	for _, c := range r.Matrix {
		peak = max(peak, c.Count)
	}
	for i, a := range Actions {
		v.Heat.Labels = append(v.Heat.Labels,
			heatLabel{X: heatLeft - 8, Y: heatTop + i*cellSize + cellSize/2 + 5, Text: a.String(), Anchor: "end"},
			heatLabel{X: heatLeft + i*cellSize + cellSize/2, Y: heatTop - 10, Text: a.String(), Anchor: "middle"})
	}
	for i, from := range Actions {
		for j, to := range Actions {
			n := r.Count(from, to)
			c := heatCell{X: heatLeft + j*cellSize, Y: heatTop + i*cellSize, Size: cellSize - 2,
				Fill: heatColour(n, peak, from, to), Text: fmt.Sprint(n), TextFill: "#222",
				Title: fmt.Sprintf("%s → %s: %d", from, to, n)}
			if n == 0 {
				c.Text = "·"
			} else if intensity(n, peak) > 0.55 {
				c.TextFill = "#fff"
			}
			v.Heat.Cells = append(v.Heat.Cells, c)
		}
	}
	v.Heat.Size = heatLeft + len(Actions)*cellSize + 10

	var most int64
	for _, d := range r.Reasons {
		most = max(most, d.Before, d.After)
	}
	for i, d := range r.Reasons {
		b := bar{Y: 10 + i*34, Code: d.Code, Before: d.Before, After: d.After,
			BeforeW: scale(d.Before, most), AfterW: scale(d.After, most), Delta: fmt.Sprintf("%+d", d.Delta),
			DeltaFill: "#555", LabelX: barLeft - 8}
		b.NumbersX = barLeft + max(b.BeforeW, b.AfterW) + 8
		switch {
		case d.Delta > 0:
			b.DeltaFill = "#b3261e"
		case d.Delta < 0:
			b.DeltaFill = "#1e6b3a"
		}
		v.Bars = append(v.Bars, b)
	}
	v.BarsH = 20 + len(r.Reasons)*34
	return v
}

// title names the revisions compared, not the file the candidate came
// from: "candidate-2 against dev+0e2241ed6ca1".
func (r *Report) title() string {
	cand := strings.Join(r.CandidateRevisions, ", ")
	if cand == "" {
		cand = filepath.Base(r.Candidate)
	}
	var active []string
	for _, rc := range r.ActiveRevisions {
		active = append(active, cmp.Or(rc.Revision, "unknown"))
	}
	if len(active) == 0 {
		return "Replay of revision " + cand
	}
	return fmt.Sprintf("Replay of revision %s against %s", cand, strings.Join(active, ", "))
}

func intensity(n, peak int64) float64 {
	if n <= 0 || peak <= 0 {
		return 0
	}
	return math.Log1p(float64(n)) / math.Log1p(float64(peak))
}

// heatColour is grey-blue on the diagonal (unchanged), red above it (more
// severe under the candidate), green below (less severe); darker is more.
func heatColour(n, peak int64, from, to decision.Action) string {
	t := intensity(n, peak)
	if n == 0 {
		return "#f4f4f4"
	}
	base := [3]float64{70, 100, 140}
	switch {
	case to > from:
		base = [3]float64{179, 38, 30}
	case to < from:
		base = [3]float64{30, 107, 58}
	}
	mix := func(c float64) int { return int(255 - (255-c)*(0.2+0.8*t)) }
	return fmt.Sprintf("rgb(%d,%d,%d)", mix(base[0]), mix(base[1]), mix(base[2]))
}

func scale(n, most int64) int {
	if most == 0 {
		return 0
	}
	return int(math.Round(float64(n) / float64(most) * barMax))
}

var page = template.Must(template.New("replay").Funcs(template.FuncMap{
	"rfc3339": func(t time.Time) string { return t.Format(time.RFC3339) },
	"list":    list,
	"changes": changesText,
	"changeList": func(list []Escalation, total int64) changeList {
		return changeList{List: list, Total: int(total)}
	},
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gavel · {{.Title}}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.summary td:first-child { color: #555; } .legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: -1px; }
svg text { font: 13px system-ui, sans-serif; } code { font-size: 12px; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<table class="summary">
<tr><td>candidate revision</td><td>{{range $i, $r := .CandidateRevisions}}{{if $i}}, {{end}}<code>{{$r}}</code>{{else}}—{{end}}</td></tr>
<tr><td>active revision (made the stored decisions)</td><td>{{range $i, $r := .ActiveRevisions}}{{if $i}}, {{end}}<code>{{or $r.Revision "unknown"}}</code> ({{$r.Decisions}} decisions){{else}}—{{end}}</td></tr>
<tr><td>candidate bundle</td><td><code>{{.Candidate}}</code></td></tr>
<tr><td>window</td><td>{{if .Since}}since {{.Since}} {{end}}{{if .Until}}until {{.Until}} {{end}}{{if .Checkpoint}}at {{.Checkpoint}}{{end}}{{if not (or .Since .Until .Checkpoint)}}all stored decisions{{end}}</td></tr>
<tr><td>decisions selected</td><td class="n">{{.Selected}}</td></tr>
<tr><td>replayed</td><td class="n">{{.Replayed}}</td></tr>
<tr><td>skipped: no input / no profile (store_input off) / manual actions by reviewers</td><td class="n">{{.Skipped.NoInput}} / {{.Skipped.NoProfile}} / {{.Skipped.Manual}}</td></tr>
<tr><td>candidate could not decide</td><td class="n">{{.Errors}}</td></tr>
<tr><td>would change action</td><td class="n">{{.Changed}} ({{.ChangedPct}})</td></tr>
<tr><td>more severe under the candidate</td><td class="n">{{.EscalationsTotal}}</td></tr>
<tr><td>less severe under the candidate</td><td class="n">{{.LessSevereTotal}}</td></tr>
<tr><td>with a reason whose action would change</td><td class="n">{{.ReasonActionsChanged}}</td></tr>
</table>
{{if .FirstError}}<p>First candidate error: <code>{{.FirstError}}</code></p>{{end}}

<h2>Action transitions</h2>
<p>Rows: the stored action. Columns: the candidate's action.
<span class="legend"><span style="background:rgb(70,100,140)"></span>unchanged<span style="background:rgb(179,38,30)"></span>more severe<span style="background:rgb(30,107,58)"></span>less severe</span></p>
<svg id="matrix" xmlns="http://www.w3.org/2000/svg" width="{{.Heat.Size}}" height="{{.Heat.Size}}" role="img" aria-label="action transition matrix">
{{range .Heat.Labels}}<text x="{{.X}}" y="{{.Y}}" text-anchor="{{.Anchor}}">{{.Text}}</text>
{{end}}{{range .Heat.Cells}}<g><title>{{.Title}}</title><rect x="{{.X}}" y="{{.Y}}" width="{{.Size}}" height="{{.Size}}" fill="{{.Fill}}"/><text x="{{.X}}" y="{{.Y}}" dx="31" dy="37" text-anchor="middle" fill="{{.TextFill}}">{{.Text}}</text></g>
{{end}}</svg>
<table id="matrix-table">
<tr><th>stored \ candidate</th>{{range $.Actions}}<th class="n">{{.}}</th>{{end}}</tr>
{{range $from := $.Actions}}<tr><th>{{$from}}</th>{{range $to := $.Actions}}<td class="n">{{$.Count $from $to}}</td>{{end}}</tr>
{{end}}</table>

<h2>Reason hits</h2>
<p>Decisions each reason fired on: stored (grey) and under the candidate (blue).</p>
{{if .Bars}}<svg xmlns="http://www.w3.org/2000/svg" width="760" height="{{.BarsH}}" role="img" aria-label="reason hits before and after">
{{range .Bars}}<g><title>{{.Code}}: {{.Before}} → {{.After}} ({{.Delta}})</title>
<text x="{{.LabelX}}" y="{{.Y}}" dy="20" text-anchor="end">{{.Code}}</text>
<rect x="260" y="{{.Y}}" width="{{.BeforeW}}" height="13" fill="#b8b8b8"/>
<rect x="260" y="{{.Y}}" transform="translate(0,14)" width="{{.AfterW}}" height="13" fill="#4a78b5"/>
<text x="{{.NumbersX}}" y="{{.Y}}" dy="20">{{.Before}} → {{.After}} <tspan fill="{{.DeltaFill}}">{{.Delta}}</tspan></text></g>
{{end}}</svg>{{else}}<p>No reason fired.</p>{{end}}

<h2>Reason actions changed</h2>
<p>Decisions in which a reason fires under both, with another action. The order reasons are listed in is not a change.</p>
{{if .ReasonActions}}<table id="reason-actions">
<tr><th>reason</th><th>stored action</th><th>candidate action</th><th class="n">decisions</th></tr>
{{range .ReasonActions}}<tr><td>{{.Code}}</td><td>{{.From}}</td><td>{{.To}}</td><td class="n">{{.Count}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}

<h2>Appeals</h2>
<table>
<tr><th></th><th class="n">decisions</th><th class="n">less severe under the candidate</th><th class="n">allowed by the candidate</th></tr>
<tr><td>overturned (the candidate would have avoided)</td><td class="n">{{.Appeals.Overturned}}</td><td class="n">{{.Appeals.OverturnedAvoided}}</td><td class="n">{{.Appeals.OverturnedToAllow}}</td></tr>
<tr><td>upheld (the candidate would have let through)</td><td class="n">{{.Appeals.Upheld}}</td><td class="n">{{.Appeals.UpheldLetThrough}}</td><td class="n">{{.Appeals.UpheldToAllow}}</td></tr>
</table>

<h2>More severe under the candidate</h2>
{{template "changes" (changeList .Escalations .EscalationsTotal)}}

<h2>Less severe under the candidate</h2>
{{template "changes" (changeList .LessSevere .LessSevereTotal)}}
<p style="color:#777">Replayed in {{.ElapsedText}} · generated {{.Generated}} by gavel replay.</p>
</body>
</html>
{{define "changes"}}{{if .List}}<p>{{.Total}} in all{{if lt (len .List) .Total}}; the earliest {{len .List}} listed{{end}}. Reason changes: <code>CODE stored → candidate</code> action; <code>+CODE</code> fires only under the candidate, <code>-CODE</code> only in the stored decision.</p>
<table>
<tr><th>decided</th><th>decision</th><th>subject</th><th>checkpoint</th><th>stored</th><th>candidate</th><th>reason changes</th><th>appeal</th></tr>
{{range .List}}<tr><td>{{rfc3339 .DecidedAt}}</td><td><code>{{.DecisionID}}</code></td><td>{{.SubjectID}}</td><td>{{.Checkpoint}}</td><td>{{.From}}</td><td>{{.To}}</td><td>{{changes .Reasons}}</td><td>{{.Outcome}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}{{end}}
`))

type changeList struct {
	List  []Escalation
	Total int
}
