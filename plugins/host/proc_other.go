//go:build !linux

package host

import "syscall"

// sysProcAttr is empty off Linux; detectors built with the SDK exit when
// their parent changes.
func sysProcAttr() *syscall.SysProcAttr { return nil }
