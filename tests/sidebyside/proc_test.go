package main

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
)

// TestChildren: a server's children are found, the one the harness starts
// among them, and counted in its RSS; the kernel's per-thread lists of
// children, where the kernel has them, name the same processes as a scan of
// /proc.
func TestChildren(t *testing.T) {
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	self := os.Getpid()
	pid := strconv.Itoa(child.Process.Pid)
	if got := children(self); !slices.Contains(got, pid) {
		t.Errorf("children(%d) = %v, want the sleep started (%s) among them", self, got, pid)
	}
	scanned := scanChildren(self)
	if !slices.Contains(scanned, pid) {
		t.Errorf("scanChildren(%d) = %v, want the sleep started (%s) among them", self, scanned, pid)
	}
	if listed, ok := threadChildren(self); ok {
		slices.Sort(listed)
		slices.Sort(scanned)
		if !slices.Equal(listed, scanned) {
			t.Errorf("threadChildren = %v, the scan of /proc = %v", listed, scanned)
		}
	} else {
		t.Log("this kernel has no /proc/PID/task/TID/children: children() is the scan, checked above")
	}
	if treeRSS(self) <= rssOf(strconv.Itoa(self)) {
		t.Errorf("treeRSS = %d, want more than the harness's own %d with a child running", treeRSS(self), rssOf(strconv.Itoa(self)))
	}
}
