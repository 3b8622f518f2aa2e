// Package pgtest starts throwaway PostgreSQL servers for tests, benchmarks
// and demos: real clusters created with the local PostgreSQL binaries
// (initdb, postgres) in temporary directories, listening on 127.0.0.1 and a
// free port, tuned for speed (fsync off: never use them for data you want
// to keep). Several servers stand in for several physical machines.
//
// StartServers is usable from any program; New is the test helper, which
// registers cleanup and skips (or, under CI=true, fails) when no
// PostgreSQL is available. With SHARDGEN_TEST_DATABASE_URL set, no cluster
// is started: each "server" is a set of databases created on that server
// (with a unique prefix) and dropped on Close; Stop and Start then return
// ErrCannotStop.
//
// When the process runs as root, initdb (through runuser) and the server
// run as the "postgres" user, and the data directories are handed to that
// user. The server is a child process: on Linux it is shut down by the
// kernel if the process that started it dies without calling Close.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDatabaseURL names an existing server to use instead of starting
// clusters. Its user must be allowed to create databases.
const EnvDatabaseURL = "SHARDGEN_TEST_DATABASE_URL"

// DefaultBinDir is where Debian/Ubuntu install PostgreSQL 15.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// ErrCannotStop is returned by Stop and Start of servers that pgtest did not
// start (SHARDGEN_TEST_DATABASE_URL mode).
var ErrCannotStop = errors.New("pgtest: server was not started by pgtest and cannot be stopped or started")

// Options tunes StartServers. The zero value is ready to use.
type Options struct {
	// BinDir holds initdb and postgres. Default: DefaultBinDir, or
	// the directory of initdb on PATH.
	BinDir string
	// Parent is the directory in which the temporary data directories are
	// created. Default: os.TempDir().
	Parent string
	// Settings are extra postgresql.conf settings (name -> value, written
	// verbatim), applied after the fast defaults.
	Settings map[string]string
	// ExternalURL, when set, is used instead of starting clusters (see the
	// package documentation). New sets it from SHARDGEN_TEST_DATABASE_URL.
	ExternalURL string
	// UnixSocket makes URL and DSN address each server through its
	// Unix-domain socket (in its data directory) instead of 127.0.0.1 and
	// its port: a shorter path through the kernel than TCP loopback, for
	// benchmarks that measure the client rather than the transport. It
	// does not apply to an ExternalURL, which is used as given.
	UnixSocket bool
}

// fastSettings trade durability for speed; the clusters are throwaway.
// Connection and lock limits are raised for tests that open many pools or
// create thousands of schemas in one transaction.
var fastSettings = [][2]string{
	{"fsync", "off"},
	{"synchronous_commit", "off"},
	{"full_page_writes", "off"},
	{"max_connections", "200"},
	{"max_locks_per_transaction", "1024"},
	{"shared_buffers", "64MB"},
	{"checkpoint_timeout", "30min"},
	{"max_wal_size", "1GB"},
	{"autovacuum", "off"},
	{"log_min_messages", "warning"},
	{"logging_collector", "off"},
	{"timezone", "'UTC'"},
}

// Server is one throwaway PostgreSQL server (or, in external mode, one
// database prefix on an existing server).
type Server struct {
	name string

	// Local cluster.
	dir      string // data directory
	port     int
	socket   bool // URL and DSN use the Unix-domain socket in dir
	bin      string
	asUser   bool // run binaries as the postgres user
	uid, gid int  // of the postgres user, when asUser
	mu       sync.Mutex
	proc     *exec.Cmd     // the running postmaster, nil when stopped
	exited   chan struct{} // closed when proc has exited
	root     *rootCloser   // shared temp dir, removed by the last Close

	// External mode.
	external *url.URL
	prefix   string
	created  []string
}

// BinDir returns the directory of the PostgreSQL binaries StartServers
// would use, or an error saying why there is none.
func BinDir(opts Options) (string, error) {
	dirs := []string{opts.BinDir}
	if opts.BinDir == "" {
		dirs = []string{DefaultBinDir}
		if p, err := exec.LookPath("initdb"); err == nil {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		ok := true
		for _, b := range []string{"initdb", "postgres"} {
			if st, err := os.Stat(filepath.Join(d, b)); err != nil || st.IsDir() {
				ok = false
			}
		}
		if ok {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgtest: no PostgreSQL binaries (initdb, postgres) in %s or on PATH", strings.Join(dirs, ", "))
}

// StartServers starts n servers named pg0, pg1, ... in parallel. On error
// every server already started is closed. The caller must Close each one.
func StartServers(ctx context.Context, n int, opts Options) ([]*Server, error) {
	if n < 1 {
		return nil, fmt.Errorf("pgtest: want at least one server, got %d", n)
	}
	if opts.ExternalURL != "" {
		return externalServers(ctx, n, opts.ExternalURL)
	}
	bin, err := BinDir(opts)
	if err != nil {
		return nil, err
	}
	asUser := os.Geteuid() == 0
	var uid, gid int = -1, -1
	if asUser {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root needs a \"postgres\" user for initdb: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	parent := opts.Parent
	if parent == "" {
		parent = os.TempDir()
	}
	root, err := os.MkdirTemp(parent, "shardgen-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	cleanupRoot := true
	defer func() {
		if cleanupRoot {
			os.RemoveAll(root)
		}
	}()
	if asUser {
		if err := os.Chown(root, uid, gid); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}

	// initdb once, then copy the cluster for each server: initdb is the
	// slow part (about a second) and every copy is identical.
	tmpl := filepath.Join(root, "template")
	if err := run(ctx, asUser, filepath.Join(bin, "initdb"), "-D", tmpl, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w", err)
	}

	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s := &Server{name: "pg" + strconv.Itoa(i), dir: filepath.Join(root, "pg"+strconv.Itoa(i)), socket: opts.UnixSocket, bin: bin, asUser: asUser, uid: uid, gid: gid}
		servers[i] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.create(ctx, tmpl, opts.Settings)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, s := range servers {
			s.stop(syscall.SIGQUIT)
		}
		return nil, err
	}
	cleanupRoot = false
	os.RemoveAll(tmpl)
	// The root directory is removed by the Close of the last server.
	rc := &rootCloser{dir: root, left: n}
	for _, s := range servers {
		s.root = rc
	}
	return servers, nil
}

// rootCloser removes the shared temporary directory once every server of
// a StartServers call is closed.
type rootCloser struct {
	mu   sync.Mutex
	dir  string
	left int
}

func (r *rootCloser) done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.left--
	if r.left == 0 {
		os.RemoveAll(r.dir)
	}
}

// create copies the template cluster, configures and starts it, retrying
// with another port if the chosen one was taken in the meantime.
func (s *Server) create(ctx context.Context, tmpl string, settings map[string]string) error {
	if out, err := exec.CommandContext(ctx, "cp", "-a", tmpl, s.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: copying cluster for %s: %v: %s", s.name, err, out)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.port = port
		if err := s.writeConf(settings); err != nil {
			return err
		}
		if lastErr = s.Start(); lastErr == nil {
			return nil
		}
		if !strings.Contains(s.logTail(), "could not bind") && !strings.Contains(s.logTail(), "in use") {
			break
		}
	}
	return lastErr
}

// writeConf appends the settings to postgresql.conf (later lines win, so
// rewriting on a port retry is harmless).
func (s *Server) writeConf(settings map[string]string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\n# pgtest\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n", s.port, s.dir)
	for _, kv := range fastSettings {
		fmt.Fprintf(&b, "%s = %s\n", kv[0], kv[1])
	}
	for _, k := range sortedKeys(settings) {
		fmt.Fprintf(&b, "%s = %s\n", k, settings[k])
	}
	f, err := os.OpenFile(filepath.Join(s.dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("pgtest: %w", err)
	}
	return f.Close()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run runs a PostgreSQL binary, as the postgres user when asUser.
func run(ctx context.Context, asUser bool, bin string, args ...string) error {
	var cmd *exec.Cmd
	if asUser {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	cmd.Dir = os.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", filepath.Base(bin), strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Name is pg0, pg1, ... in start order.
func (s *Server) Name() string { return s.name }

// Port is the TCP port on 127.0.0.1 (0 in external mode).
func (s *Server) Port() int { return s.port }

// Dir is the data directory ("" in external mode).
func (s *Server) Dir() string { return s.dir }

// External reports whether the server is a database prefix on an existing
// server (SHARDGEN_TEST_DATABASE_URL), which cannot be stopped.
func (s *Server) External() bool { return s.external != nil }

// URL returns a postgres:// URL for database db on the server, as user
// postgres without password (trust authentication on loopback and on the
// socket). With Options.UnixSocket it names the socket directory in a
// host parameter. In external mode db is mapped to the prefixed database
// CreateDatabase made.
func (s *Server) URL(db string) string {
	if s.external != nil {
		u := *s.external
		u.Path = "/" + s.dbName(db)
		return u.String()
	}
	if s.socket {
		q := url.Values{"host": {s.dir}, "port": {strconv.Itoa(s.port)}, "sslmode": {"disable"}}
		return fmt.Sprintf("postgres://postgres@/%s?%s", url.PathEscape(db), q.Encode())
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, url.PathEscape(db))
}

// DSN returns the keyword=value form of URL(db).
func (s *Server) DSN(db string) string {
	if s.external != nil {
		return s.URL(db)
	}
	host := "127.0.0.1"
	if s.socket {
		host = s.dir // temporary directories have no spaces or quotes
	}
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", host, s.port, db)
}

func (s *Server) dbName(db string) string {
	if s.external == nil || db == "postgres" {
		return db
	}
	return s.prefix + db
}

// CreateDatabase creates database name (an identifier; it is quoted).
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.adminURL())
	if err != nil {
		return fmt.Errorf("pgtest: %s: connecting: %w", s.name, err)
	}
	defer conn.Close(ctx)
	real := s.dbName(name)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{real}.Sanitize()); err != nil {
		return fmt.Errorf("pgtest: %s: creating database %s: %w", s.name, real, err)
	}
	if s.external != nil {
		s.mu.Lock()
		s.created = append(s.created, real)
		s.mu.Unlock()
	}
	return nil
}

func (s *Server) adminURL() string {
	if s.external != nil {
		return s.external.String()
	}
	return s.URL("postgres")
}

// Start starts a stopped server on the same port and data directory and
// waits until it accepts connections.
func (s *Server) Start() error {
	if s.external != nil {
		return ErrCannotStop
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	cmd := s.serverCmd(filepath.Join(s.bin, "postgres"), "-D", s.dir)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("pgtest: starting %s: %w", s.name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	if err := s.waitReady(exited); err != nil {
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("pgtest: starting %s on port %d: %w; log: %s", s.name, s.port, err, s.logTail())
	}
	s.proc, s.exited = cmd, exited
	return nil
}

// waitReady polls until the server answers a query, it exits, or a minute
// passes.
func (s *Server) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-exited:
			return errors.New("server exited")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after a minute: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server (fast shutdown: sessions are disconnected, every
// committed transaction is kept). Connections to it fail until Start.
func (s *Server) Stop() error {
	if s.external != nil {
		return ErrCannotStop
	}
	return s.stop(syscall.SIGINT)
}

// stop signals the postmaster (SIGINT: fast shutdown, SIGQUIT: immediate)
// and waits for it to exit, killing it after a minute.
func (s *Server) stop(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	proc, exited := s.proc, s.exited
	s.proc, s.exited = nil, nil
	if err := proc.Process.Signal(sig); err != nil {
		select {
		case <-exited:
			return nil // already gone
		default:
			return fmt.Errorf("pgtest: stopping %s: %w", s.name, err)
		}
	}
	select {
	case <-exited:
		return nil
	case <-time.After(time.Minute):
		proc.Process.Kill()
		<-exited
		return fmt.Errorf("pgtest: %s did not stop within a minute; killed", s.name)
	}
}

// Close stops the server and removes its data (in external mode, drops the
// databases CreateDatabase made). It is safe to call more than once.
func (s *Server) Close() error {
	if s.external != nil {
		return s.dropCreated()
	}
	err := s.stop(syscall.SIGQUIT)
	s.mu.Lock()
	dir, rc := s.dir, s.root
	s.root = nil
	s.mu.Unlock()
	if rc != nil {
		os.RemoveAll(dir)
		rc.done()
	}
	return err
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return "(no log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// externalServers maps n "servers" to database prefixes on an existing
// server.
func externalServers(ctx context.Context, n int, raw string) ([]*Server, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("pgtest: %s must be a postgres:// URL", EnvDatabaseURL)
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	tag := hex.EncodeToString(rnd[:])
	servers := make([]*Server, n)
	for i := range n {
		servers[i] = &Server{name: "pg" + strconv.Itoa(i), external: u, prefix: fmt.Sprintf("sgt%s_%d_", tag, i)}
	}
	// Fail early, with a clear message, if the server is not reachable.
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("pgtest: connecting to %s: %w", EnvDatabaseURL, err)
	}
	conn.Close(ctx)
	return servers, nil
}

func (s *Server) dropCreated() error {
	s.mu.Lock()
	dbs := s.created
	s.created = nil
	s.mu.Unlock()
	if len(dbs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.adminURL())
	if err != nil {
		return fmt.Errorf("pgtest: %s: connecting to drop databases: %w", s.name, err)
	}
	defer conn.Close(ctx)
	var errs []error
	for _, db := range dbs {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
