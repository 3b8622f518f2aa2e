package pgtest

import (
	"fmt"
	"syscall"
)

// Signal sends sig to the server's processes, the postmaster and (on Linux)
// each of its backends: SIGSTOP freezes the whole server as a hung host
// would (connections stay open, nothing answers), SIGCONT thaws it. To
// crash it use Kill.
func (s *Server) Signal(sig syscall.Signal) error {
	if s.external != nil {
		return ErrCannotStop
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return fmt.Errorf("pgtest: %s is not running", s.name)
	}
	if err := signalAll(s.proc.Process.Pid, sig); err != nil {
		return fmt.Errorf("pgtest: signalling %s: %w", s.name, err)
	}
	return nil
}

// Kill crashes the server: SIGKILL to the postmaster and every backend, as
// a machine losing power would, and waits for the postmaster to exit. Start
// brings it back (with crash recovery); committed transactions survive.
func (s *Server) Kill() error {
	if s.external != nil {
		return ErrCannotStop
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	proc, exited := s.proc, s.exited
	s.proc, s.exited = nil, nil
	if err := signalAll(proc.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("pgtest: killing %s: %w", s.name, err)
	}
	<-exited
	return nil
}
