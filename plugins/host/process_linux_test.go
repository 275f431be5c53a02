//go:build linux

package host

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/logbuf"
)

const prSetChildSubreaper = 36

// gone reports whether pid no longer runs (absent, or a zombie nobody reaped).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestCloseLeavesNoChild(t *testing.T) {
	h, _ := startHost(t, Config{Detectors: []DetectorConfig{
		detectorConfig("one", nil), detectorConfig("two", nil),
	}})
	var pids []int
	for _, s := range h.Status() {
		if s.PID == 0 {
			t.Fatalf("Status() = %+v, want a pid", s)
		}
		pids = append(pids, s.PID)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	for _, pid := range pids {
		if !gone(pid) {
			t.Errorf("detector process %d still runs after Close", pid)
		}
	}
	for _, s := range h.Status() {
		if s.State != StateUnavailable || s.PID != 0 {
			t.Errorf("Status() after Close = %+v, want unavailable without a pid", s)
		}
	}
	if got := collect(h, request("signup", ""), time.Second); len(got) != 2 || got[0].Status != decision.StatusUnavailable {
		t.Errorf("Collect() after Close = %+v, want unavailable", got)
	}
}

func TestKilledHostLeavesNoOrphan(t *testing.T) {
	// Orphans are re-parented to this process rather than to an init that
	// may not reap them, so the test can tell "killed" from "zombie".
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", errno)
	}
	cmd := exec.Command(selfPath)
	cmd.Env = append(os.Environ(), envHostMode+"=1")
	var stderr logbuf.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		lines <- sc.Text()
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(patience):
		t.Fatalf("test host printed no PIDs within %v; stderr:\n%s", patience, &stderr)
	}
	var pids []int
	for _, f := range strings.Fields(line) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			t.Fatalf("test host printed %q, want PIDs; stderr:\n%s", line, &stderr)
		}
		pids = append(pids, pid)
	}
	if len(pids) != 2 {
		t.Fatalf("test host printed %q, want two PIDs", line)
	}
	for _, pid := range pids {
		if gone(pid) {
			t.Fatalf("detector %d is not running before the host is killed", pid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for _, pid := range pids {
		eventually(t, fmt.Sprintf("detector %d exits after its host is SIGKILLed", pid), func() (bool, string) {
			var ws syscall.WaitStatus
			wpid, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			switch {
			case wpid == pid:
				return true, ""
			case errors.Is(err, syscall.ECHILD): // not re-parented to us
				return gone(pid), "still running"
			}
			return false, fmt.Sprintf("still running (wait4: %v)", err)
		})
	}
}
