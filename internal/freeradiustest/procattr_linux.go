package freeradiustest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill freeradius when the test binary dies
// without running its cleanups (a crash, SIGKILL, a closed pipe), so no
// server outlives its test.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
