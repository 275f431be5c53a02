package tests

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/proto/gavel/admin/v1/adminv1connect"
	"github.com/gavel/gavel/proto/gavel/decision/v1/decisionv1connect"
)

// binDir holds gavel and the built-in detectors, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "gavel-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	if !testing.Short() {
		if err := buildBinaries(dir); err != nil {
			fmt.Fprintln(os.Stderr, "build gavel for end-to-end tests:", err)
			return 1
		}
	}
	return m.Run()
}

// buildBinaries builds gavel and every detector under plugins/detectors.
func buildBinaries(dir string) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	build := func(out, pkg string) error {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, out), pkg)
		cmd.Dir = root
		cmd.Stderr = os.Stderr
		return cmd.Run()
	}
	if err := build("gavel", "./cmd/gavel"); err != nil {
		return err
	}
	dets, err := os.ReadDir(filepath.Join(root, "plugins", "detectors"))
	if err != nil {
		return err
	}
	for _, d := range dets {
		if d.IsDir() {
			if err := build("gavel-detector-"+d.Name(), "./plugins/detectors/"+d.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

// gavelProc is a running `gavel serve`.
type gavelProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	addr    string
	dataDir string
	mu      sync.Mutex
	logs    strings.Builder
	done    chan error
}

var servingLine = regexp.MustCompile(`msg="gavel serving" addr=(\S+)`)

// startGavel runs gavel serve on a free loopback port with its data in a
// temporary folder; env adds GAVEL_ settings. The process is stopped at
// cleanup.
func startGavel(t testing.TB, env ...string) *gavelProc {
	t.Helper()
	return startGavelIn(t, "", env...)
}

// budgetsEnv sets every checkpoint's detector budget (detectors.budgets) to
// d, for tests about behaviour rather than speed: a loaded machine must not
// turn a slow answer into a timeout. d must not exceed the signal timeout.
func budgetsEnv(d string) []string {
	var env []string
	for _, cp := range []string{"DEFAULT", "SIGNUP", "LOGIN", "IDENTITY_VERIFICATION", "PAYOUT_METHOD_CHANGE", "WITHDRAWAL"} {
		env = append(env, "GAVEL_DETECTORS__BUDGETS__"+cp+"="+d)
	}
	return env
}

// startGavelIn is startGavel on the data folder dataDir ("" for a fresh
// temporary one), so a test can restart gavel on the same data.
func startGavelIn(t testing.TB, dataDir string, env ...string) *gavelProc {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs gavel (run without -short)")
	}
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	p := &gavelProc{t: t, dataDir: dataDir, done: make(chan error, 1)}
	p.cmd = exec.Command(filepath.Join(binDir, "gavel"), "serve", "--listen", "127.0.0.1:0", "--data-dir", p.dataDir)
	p.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"GAVEL_DETECTORS__RESTART_BACKOFF_MIN=200ms",
	}, env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start gavel: %v", err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := servingLine.FindStringSubmatch(line); m != nil {
				addrc <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { p.done <- p.cmd.Wait() }()
	select {
	case addr := <-addrc:
		p.addr = "http://" + addr
	case err := <-p.done:
		t.Fatalf("gavel exited before serving: %v\n%s", err, p.Logs())
	case <-time.After(90 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("gavel did not start serving within 90s\n%s", p.Logs())
	}
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("gavel logs:\n%s", p.Logs())
		}
	})
	return p
}

func (p *gavelProc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// stop signals gavel and waits for it to exit; it returns the exit error.
func (p *gavelProc) stop(sig os.Signal) error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		return fmt.Errorf("gavel did not exit within 60s of %v", sig)
	}
}

func h2cClient() *http.Client {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &protocols}}
}

func (p *gavelProc) decisions(opts ...connect.ClientOption) decisionv1connect.DecisionServiceClient {
	return decisionv1connect.NewDecisionServiceClient(h2cClient(), p.addr, opts...)
}

func (p *gavelProc) admin(opts ...connect.ClientOption) adminv1connect.AdminServiceClient {
	return adminv1connect.NewAdminServiceClient(h2cClient(), p.addr, opts...)
}

// children returns the pids of gavel's child processes whose command line
// contains name.
func (p *gavelProc) children(t testing.TB, name string) []int {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		var ppid int
		fmt.Sscanf(fields[1], "%d", &ppid)
		if ppid != p.cmd.Process.Pid {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), name) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// eventually polls cond until it holds or the deadline passes. Deadlines are
// generous: these tests assert behaviour, not speed.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not happen within %v; last state: %s", what, within, last)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
