package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser is Debian's headless Chromium, driven over the DevTools protocol.
type browser struct {
	root  context.Context
	shots string // where screenshots go; kept after the test
	axe   string // axe-core's source, injected into pages for the checks
}

// chromiumPath finds the browser tests/deps.sh installs.
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: tests/deps.sh installs Debian's chromium (apt-get install chromium)")
	return ""
}

// newBrowser starts Chromium headless for the test, with the flags this
// machine's closed network needs.
func newBrowser(t testing.TB) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: runs gavel and Chromium (run without -short)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	axe, err := os.ReadFile(filepath.Join(repoRoot(t), "tests", "testdata", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is vendored by make console-assets: %v", err)
	}
	shots := os.Getenv("CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(os.TempDir(), "gavel-console-screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots in %s", shots)
	return &browser{root: root, shots: shots, axe: string(axe)}
}

// user opens a tab in a browser context of its own: cookies are not
// shared between users. Each page it loads records CSP violations.
func (b *browser) user(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = [];
			document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
	}); err != nil {
		t.Fatalf("watch CSP violations: %v", err)
	}
	return ctx
}

// step runs actions on a tab with a deadline.
func step(t testing.TB, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

func eval[T any](t testing.TB, ctx context.Context, js string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		t.Fatalf("browser: evaluate %.60q: %v", js, err)
	}
	return v
}

func text(t testing.TB, ctx context.Context, css string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("browser: text of %s: %v; the page instead:\n%s", css, err, pageText(ctx))
	}
	return s
}

// pageText is the address and the start of the text of the page the tab
// shows, for a failure's message.
func pageText(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Evaluate[string](`location.pathname + location.search + "\n" + document.body.innerText.slice(0, 3000)`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// navigate loads a page and waits for it.
func navigate(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	step(t, ctx, chromedp.Navigate(url))
}

// submit runs an action that submits a form and waits for the next page.
func submit(t testing.TB, ctx context.Context, a chromedp.Action[chromedp.Void]) int64 {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(sctx, a)
	if err != nil {
		t.Fatalf("browser: submit: %v", err)
	}
	if resp == nil {
		return 0
	}
	return resp.Status
}

func location(t testing.TB, ctx context.Context) string {
	t.Helper()
	return eval[string](t, ctx, `location.pathname + location.search`)
}

// axeViolation is one rule axe-core found broken.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  int    `json:"nodes"`
	Target string `json:"target"`
}

var shotMu sync.Mutex

// check looks at the page the tab shows at 1280 and 390 CSS pixels wide:
// a screenshot of each, axe-core's serious and critical violations, content
// wider than a phone's screen, and CSP violations. name names the files.
func (b *browser) check(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	for _, width := range []int64{1280, 390} {
		step(t, ctx, chromedp.EmulateViewport(width, 900))
		eval[chromedp.Void](t, ctx, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise)
		sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		shotMu.Lock()
		path := filepath.Join(b.shots, fmt.Sprintf("%s-%d.png", name, width))
		err = os.WriteFile(path, png, 0o644)
		shotMu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if overflow := eval[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); overflow > 1 {
			t.Errorf("%s at %dpx: the page is %dpx wider than the window", name, width, overflow)
		}
		if !eval[bool](t, ctx, `typeof axe !== "undefined"`) {
			eval[chromedp.Void](t, ctx, b.axe)
		}
		raw := eval[[]byte](t, ctx, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
			id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.length,
			target: v.nodes.length ? v.nodes[0].target.join(" ") : ""})))`, chromedp.EvalAwaitPromise)
		var vs []axeViolation
		if err := json.Unmarshal(raw, &vs); err != nil {
			t.Fatalf("axe result: %v: %s", err, raw)
		}
		for _, v := range vs {
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("%s at %dpx: axe %s (%s) on %d node(s), first %s: %s", name, width, v.ID, v.Impact, v.Nodes, v.Target, v.Help)
			} else {
				t.Logf("%s at %dpx: axe %s (%s): %s", name, width, v.ID, v.Impact, v.Help)
			}
		}
	}
	step(t, ctx, chromedp.EmulateViewport(1280, 900))
	if csp := eval[[]string](t, ctx, `window.__csp || []`); len(csp) > 0 {
		t.Errorf("%s: the page broke its Content-Security-Policy: %s", name, strings.Join(csp, "; "))
	}
}

// timing is the Navigation Timing of the page the tab shows, in ms from
// the start of the navigation.
type timing struct {
	TTFB         float64 `json:"ttfb"`
	DOMContent   float64 `json:"dcl"`
	Interactive  float64 `json:"interactive"`
	Load         float64 `json:"load"`
	TransferSize float64 `json:"size"`
}

// pageTiming reads the page's timing: time to first byte (responseStart)
// and time to interactive, taken as the end of DOMContentLoaded, when the
// deferred scripts have run and the page's handlers are attached.
func pageTiming(t testing.TB, ctx context.Context) timing {
	t.Helper()
	raw := eval[[]byte](t, ctx, `(() => { const n = performance.getEntriesByType("navigation")[0];
		return {ttfb: n.responseStart - n.startTime, dcl: n.domContentLoadedEventStart - n.startTime,
		        interactive: n.domContentLoadedEventEnd - n.startTime, load: n.loadEventEnd - n.startTime,
		        size: n.transferSize}; })()`)
	var tm timing
	if err := json.Unmarshal(raw, &tm); err != nil {
		t.Fatal(err)
	}
	return tm
}
