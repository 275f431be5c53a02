// Command benchreport reads `go test -bench` output on stdin and prints, for
// each benchmark group, every case's figures and its ratio to the group's
// baseline: the case named "baseline", or else the first case run. It is the
// summary that `make bench` prints after the raw output.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
)

type result struct {
	name    string
	metrics map[string]float64
	order   []string
}

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

func main() {
	groups := map[string][]result{}
	var groupOrder []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := line.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		name := strings.TrimPrefix(m[1], "Benchmark")
		group, sub, _ := strings.Cut(name, "/")
		if sub == "" {
			sub = group
		}
		r := result{name: sub, metrics: map[string]float64{}}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			r.metrics[f[i+1]] = v
			r.order = append(r.order, f[i+1])
		}
		if _, ok := groups[group]; !ok {
			groupOrder = append(groupOrder, group)
		}
		groups[group] = append(groups[group], r)
	}
	if len(groupOrder) == 0 {
		fmt.Fprintln(os.Stderr, "benchreport: no benchmark results on stdin")
		os.Exit(1)
	}
	fmt.Println("\n=== summary: each case against its group's baseline ===")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, g := range groupOrder {
		rs := groups[g]
		base := rs[0]
		for _, r := range rs {
			if r.name == "baseline" {
				base = r
			}
		}
		fmt.Fprintf(tw, "%s — baseline: %s\t\t\t\t\t\n", g, base.name)
		for _, r := range rs {
			ns := r.metrics["ns/op"]
			ratio := "-"
			if b := base.metrics["ns/op"]; b > 0 && ns > 0 {
				ratio = fmt.Sprintf("%.2fx", ns/b)
			}
			var extra []string
			for _, k := range r.order {
				if k != "ns/op" && k != "B/op" && k != "allocs/op" {
					extra = append(extra, fmt.Sprintf("%s %s", trim(r.metrics[k]), k))
				}
			}
			opsPerSec := "-"
			if ns > 0 {
				opsPerSec = fmt.Sprintf("%.0f/s", 1e9/ns)
			}
			fmt.Fprintf(tw, "  %s\t%s ns/op\t%s\t%s allocs/op\t%s\t  %s\n", r.name, trim(ns), opsPerSec, trim(r.metrics["allocs/op"]), ratio, strings.Join(extra, ", "))
		}
	}
	tw.Flush()
}

func trim(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
