//go:build !linux

package pgtest

import (
	"os"
	"os/exec"
	"syscall"
)

// serverCmd returns the command that runs the postmaster in the
// foreground (via runuser when running as root). Without Linux's
// parent-death signal a server outlives a process killed before Close.
func (s *Server) serverCmd(bin string, args ...string) *exec.Cmd {
	if s.asUser {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

// signalAll sends sig to the postmaster only: without a process group of
// its own, backends are not reached.
func signalAll(pid int, sig syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Signal(sig)
}
