// Package redistest starts throwaway Redis servers for tests, benchmarks and
// demos: real redis-server processes from the local binary (Debian's package
// redis-server), each in a temporary directory, listening on 127.0.0.1 and a
// free port, as Redis in Action suggests for several servers on one machine.
// Several servers stand in for several machines.
//
// Persistence is configurable (Options.Persistence) so tests can restart a
// server and check what survived: AOF with appendfsync always (the default
// here: nothing acknowledged is lost when the process dies), AOF with
// appendfsync everysec (up to about two seconds of acknowledged writes can
// be lost), or none (a restart empties the server).
//
// StartServers is usable from any program (a demo, a benchmark); New is the
// test helper, which registers cleanup and skips (or, under CI=true, fails)
// when redis-server is missing. On Linux the server gets a parent-death
// signal, so a crashed test binary leaves no stray server behind. The package
// uses only the standard library: it speaks just enough RESP to wait for
// the server and to run a command, so it links no Redis client.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Persistence is how a throwaway server keeps its data across restarts.
type Persistence int

const (
	// AOFAlways: append-only file, fsync before every reply. A restart
	// (even after SIGKILL, even after a machine crash) loses nothing
	// acknowledged.
	AOFAlways Persistence = iota
	// AOFEverySec: append-only file, fsync once a second (Redis's
	// recommended setting). A crash loses up to about two seconds of
	// acknowledged writes: while a slow fsync is in progress Redis
	// postpones writing the file (up to two seconds) but keeps replying,
	// so even a process crash (SIGKILL) can lose them; seen on this
	// loaded test machine.
	AOFEverySec
	// None: no persistence at all; a restart empties the server.
	None
)

// Options tunes StartServers. The zero value is ready to use.
type Options struct {
	// Bin is the redis-server binary. Default: redis-server on PATH, then
	// /usr/bin/redis-server.
	Bin string
	// Parent is where the temporary directories are created. Default
	// os.TempDir().
	Parent string
	// Persistence; default AOFAlways.
	Persistence Persistence
	// Password, when set, is required by the server (requirepass) and put
	// into URL.
	Password string
}

// Server is one throwaway redis-server.
type Server struct {
	name, dir, bin string
	port           int
	args           []string
	password       string

	mu     sync.Mutex
	proc   *exec.Cmd
	exited chan struct{}
	log    string
}

// Bin returns the redis-server binary StartServers would use, or an error
// saying why there is none.
func Bin(opts Options) (string, error) {
	if opts.Bin != "" {
		if _, err := os.Stat(opts.Bin); err != nil {
			return "", fmt.Errorf("redistest: %w", err)
		}
		return opts.Bin, nil
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server", nil
	}
	return "", errors.New("redistest: no redis-server on PATH or in /usr/bin (apt-get install redis-server)")
}

// StartServers starts n servers named redis0, redis1, ... On error every
// server already started is closed. The caller must Close each one.
func StartServers(ctx context.Context, n int, opts Options) ([]*Server, error) {
	if n < 1 {
		return nil, fmt.Errorf("redistest: want at least one server, got %d", n)
	}
	bin, err := Bin(opts)
	if err != nil {
		return nil, err
	}
	var out []*Server
	for i := range n {
		dir, err := os.MkdirTemp(opts.Parent, "shardgen-redistest-")
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("redistest: %w", err)
		}
		s := &Server{name: "redis" + strconv.Itoa(i), dir: dir, bin: bin, password: opts.Password}
		s.args = []string{"--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no", "--protected-mode", "no",
			"--logfile", filepath.Join(dir, "redis.log"), "--save", "", "--dbfilename", "dump.rdb"}
		switch opts.Persistence {
		case AOFAlways:
			s.args = append(s.args, "--appendonly", "yes", "--appendfsync", "always")
		case AOFEverySec:
			s.args = append(s.args, "--appendonly", "yes", "--appendfsync", "everysec")
		case None:
			s.args = append(s.args, "--appendonly", "no")
		default:
			closeAll(out)
			return nil, fmt.Errorf("redistest: unknown persistence %d", opts.Persistence)
		}
		if opts.Password != "" {
			s.args = append(s.args, "--requirepass", opts.Password)
		}
		out = append(out, s)
		// A free port can be taken by someone else between the probe and
		// the server's bind: try a few.
		for attempt := 0; ; attempt++ {
			if s.port, err = freePort(); err == nil {
				err = s.startCtx(ctx)
			}
			if err == nil || attempt == 4 || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			closeAll(out)
			return nil, err
		}
	}
	return out, nil
}

func closeAll(ss []*Server) {
	for _, s := range ss {
		s.Close()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Name returns "redis0", "redis1", ...
func (s *Server) Name() string { return s.name }

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port returns the TCP port.
func (s *Server) Port() int { return s.port }

// Dir returns the server's data directory.
func (s *Server) Dir() string { return s.dir }

// URL returns redis://[:password@]127.0.0.1:port/0.
func (s *Server) URL() string {
	if s.password != "" {
		return "redis://:" + s.password + "@" + s.Addr() + "/0"
	}
	return "redis://" + s.Addr() + "/0"
}

// Start starts a stopped server again on the same port and directory (it
// reloads its append-only file, if any).
func (s *Server) Start() error { return s.startCtx(context.Background()) }

func (s *Server) startCtx(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("redistest: %s is already running", s.name)
	}
	cmd := serverCmd(s.bin, append([]string{"--port", strconv.Itoa(s.port)}, s.args...)...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start %s: %w", s.name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.proc, s.exited = cmd, exited
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := s.do("PING"); err == nil {
			return nil
		}
		select {
		case <-exited:
			s.proc = nil
			return fmt.Errorf("redistest: %s exited during startup: %s", s.name, s.logTail())
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			s.proc = nil
			return fmt.Errorf("redistest: %s did not answer PING: %s", s.name, s.logTail())
		}
	}
}

// Do sends one command and returns its reply as a string (integers in
// decimal, nil as ""); an error reply is returned as an error. It is for
// test set-up and checks (CONFIG SET, DBSIZE, FLUSHALL), not for the data
// path.
func (s *Server) Do(args ...string) (string, error) { return s.do(args...) }

func (s *Server) do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr(), 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	if s.password != "" {
		writeCmd(&b, "AUTH", s.password)
	}
	writeCmd(&b, args...)
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	if s.password != "" {
		if _, err := readReply(r); err != nil {
			return "", err
		}
	}
	return readReply(r)
}

func writeCmd(b *strings.Builder, args ...string) {
	fmt.Fprintf(b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(b, "$%d\r\n%s\r\n", len(a), a)
	}
}

// readReply reads one RESP2 reply; arrays are joined with newlines.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("redistest: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		parts := make([]string, 0, max(n, 0))
		for range n {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("redistest: unexpected reply %q", line)
}

// Stop shuts the server down cleanly (SIGTERM: it writes its files and
// exits) and waits for it.
func (s *Server) Stop() error { return s.stop(syscall.SIGTERM) }

// Kill sends SIGKILL, as a crash would, and waits for the process to go.
func (s *Server) Kill() error { return s.stop(syscall.SIGKILL) }

func (s *Server) stop(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	if err := s.proc.Process.Signal(sig); err != nil {
		return fmt.Errorf("redistest: signal %s: %w", s.name, err)
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.proc.Process.Kill()
		<-s.exited
	}
	s.proc = nil
	return nil
}

// Signal sends sig (SIGSTOP, SIGCONT, ...) to the running server without
// waiting.
func (s *Server) Signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return fmt.Errorf("redistest: %s is not running", s.name)
	}
	return s.proc.Process.Signal(sig)
}

// Close kills the server and removes its directory.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.proc != nil {
		s.proc.Process.Kill() // SIGKILL ends a SIGSTOPped process too
		<-s.exited
		s.proc = nil
	}
	s.mu.Unlock()
	return os.RemoveAll(s.dir)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}
