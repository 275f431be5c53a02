// Command testreport reads `go test -json` on stdin and prints what `go
// test` prints without -v — each package's result, and the output of the
// tests that failed — then every skipped test with its reason, so a skip
// is visible without -v. It exits 1 when a test or package failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action     string
	ImportPath string
	Package    string
	Test       string
	Output     string
}

func main() {
	out := map[string][]string{} // package/test → its output lines
	skipped := map[string]string{}
	failed := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // build errors and the like are not JSON
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			out[key] = append(out[key], e.Output)
			if e.Test == "" && (strings.HasPrefix(e.Output, "ok ") || strings.HasPrefix(e.Output, "FAIL") ||
				strings.HasPrefix(e.Output, "?") || strings.HasPrefix(e.Output, "panic:")) {
				fmt.Print(e.Output)
			}
		case "build-output":
			fmt.Print(e.Output)
		case "build-fail":
			failed = true
		case "skip":
			if e.Test != "" {
				skipped[key] = reason(out[key])
			}
		case "fail":
			failed = true
			if e.Test != "" {
				fmt.Print(strings.Join(out[key], ""))
			}
		}
		if e.Action == "pass" || e.Action == "skip" {
			delete(out, key)
		}
	}
	if len(skipped) > 0 {
		keys := make([]string, 0, len(skipped))
		for k := range skipped {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Printf("\n%d tests skipped:\n", len(keys))
		for _, k := range keys {
			fmt.Printf("  SKIP %s: %s\n", k, skipped[k])
		}
	}
	if failed {
		os.Exit(1)
	}
}

// reason is the skip message among a test's output lines.
func reason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "---") || strings.HasPrefix(l, "=== ") {
			continue
		}
		if _, msg, ok := strings.Cut(l, ": "); ok && strings.Contains(l, ".go:") {
			return msg
		}
		return l
	}
	return "(no reason given)"
}
