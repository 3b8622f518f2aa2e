package pgtest

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// signalAll sends sig to the postmaster and then to each of its children
// (backends and auxiliary processes), found in /proc: each backend calls
// setsid, so no process group holds them all. The postmaster is signalled
// first so that, stopped or killed, it forks no child in between.
func signalAll(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(pid, sig); err != nil {
		return err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...; comm may contain spaces and parentheses.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			syscall.Kill(child, sig) // one that exited meanwhile is fine
		}
	}
	return nil
}
