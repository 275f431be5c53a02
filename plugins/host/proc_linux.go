//go:build linux

package host

import "syscall"

// sysProcAttr kills a detector when the thread that started it exits, so a
// SIGKILLed gavel leaves no orphan. The supervisor starts detectors from a
// goroutine locked to its thread for the detector's whole life.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
