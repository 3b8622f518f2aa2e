package pgtest

import (
	"os/exec"
	"syscall"
)

// serverCmd returns the command that runs the postmaster in the
// foreground. On Linux it runs as the postgres user directly (no runuser in
// between) and with a parent-death signal: if the process that started the
// server dies without Close (a test binary killed by -timeout, a crashed
// demo), the kernel sends the postmaster SIGINT, a fast shutdown, instead of
// leaving a stray server running.
func (s *Server) serverCmd(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGINT}
	if s.asUser {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.gid), NoSetGroups: true}
	}
	return cmd
}
