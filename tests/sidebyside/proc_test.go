package main

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
)

// TestChildren: the kernel's per-thread lists of children name the same
// processes as a scan of /proc, the one the harness starts among them.
func TestChildren(t *testing.T) {
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	self := os.Getpid()
	listed, ok := threadChildren(self)
	if !ok {
		t.Skip("this kernel has no /proc/PID/task/TID/children: the harness scans /proc")
	}
	scanned := scanChildren(self)
	slices.Sort(listed)
	slices.Sort(scanned)
	if !slices.Equal(listed, scanned) {
		t.Errorf("threadChildren = %v, the scan of /proc = %v", listed, scanned)
	}
	if !slices.Contains(children(self), strconv.Itoa(child.Process.Pid)) {
		t.Errorf("children(%d) = %v, want the sleep started (%d) among them", self, children(self), child.Process.Pid)
	}
	if treeRSS(self) <= rssOf(strconv.Itoa(self)) {
		t.Errorf("treeRSS = %d, want more than the harness's own %d with a child running", treeRSS(self), rssOf(strconv.Itoa(self)))
	}
}
