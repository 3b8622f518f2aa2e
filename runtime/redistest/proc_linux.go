package redistest

import (
	"os/exec"
	"syscall"
)

// serverCmd runs redis-server with a parent-death signal: if the process
// that started it dies without Close, the kernel sends it SIGTERM instead of
// leaving a stray server behind.
func serverCmd(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	return cmd
}
