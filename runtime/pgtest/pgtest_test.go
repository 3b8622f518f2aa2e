package pgtest_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

func TestServersStopStartClose(t *testing.T) {
	ctx := context.Background()
	servers := pgtest.New(t, 2)
	if len(servers) != 2 {
		t.Fatalf("got %d servers, want 2", len(servers))
	}
	for i, s := range servers {
		if err := s.CreateDatabase(ctx, "app"); err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, s.URL("app"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE t (v int)"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO t VALUES ($1)", i); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
	}
	if servers[0].Port() == servers[1].Port() && !servers[0].External() {
		t.Fatalf("both servers on port %d", servers[0].Port())
	}

	s := servers[1]
	if s.External() {
		if err := s.Stop(); err != pgtest.ErrCannotStop {
			t.Fatalf("Stop in external mode = %v, want ErrCannotStop", err)
		}
		return
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if conn, err := pgx.Connect(ctx, s.DSN("app")); err == nil {
		conn.Close(ctx)
		t.Fatal("connected to a stopped server")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, s.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := conn.QueryRow(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != 1 {
		t.Fatalf("after restart: v=%d err=%v, want 1", v, err)
	}
	conn.Close(ctx)

	dir := servers[0].Dir()
	if err := servers[0].Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data directory %s still exists after Close: %v", dir, err)
	}
	if err := servers[0].Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// fakeTB records what New does when PostgreSQL is missing.
type fakeTB struct {
	skipped, failed string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Cleanup(func())                 {}
func (f *fakeTB) Logf(string, ...any)            {}
func (f *fakeTB) Fatalf(format string, _ ...any) { f.failed = format; panic(f) }
func (f *fakeTB) Skipf(format string, _ ...any)  { f.skipped = format; panic(f) }

func TestNewWithoutBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(pgtest.EnvDatabaseURL, "")
	if _, err := pgtest.BinDir(pgtest.Options{BinDir: t.TempDir()}); err == nil {
		t.Fatal("BinDir of an empty directory succeeded")
	}
	// New uses the default directory; only check the skip/fail decision
	// when it is really missing on this machine.
	if _, err := pgtest.BinDir(pgtest.Options{}); err == nil {
		t.Skip("PostgreSQL binaries are installed; the missing-binaries path is covered by BinDir above")
	}
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		f := &fakeTB{}
		func() {
			defer func() { recover() }()
			pgtest.New(f, 1)
		}()
		if ci == "true" && f.failed == "" {
			t.Errorf("CI=true: New did not fail")
		}
		if ci == "" && f.skipped == "" {
			t.Errorf("CI unset: New did not skip")
		}
	}
}

// With SHARDGEN_TEST_DATABASE_URL set (here: at a throwaway server), the
// "servers" are database prefixes on that server, dropped on Close.
func TestExternalMode(t *testing.T) {
	ctx := context.Background()
	host := pgtest.New(t, 1)[0]
	if host.External() {
		t.Skip("already running against SHARDGEN_TEST_DATABASE_URL")
	}
	t.Setenv(pgtest.EnvDatabaseURL, host.URL("postgres"))
	servers := pgtest.New(t, 2)
	var names []string
	for i, s := range servers {
		if !s.External() {
			t.Fatalf("server %d is not external", i)
		}
		if err := s.CreateDatabase(ctx, "app"); err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, s.URL("app"))
		if err != nil {
			t.Fatal(err)
		}
		var name string
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		names = append(names, name)
		if err := s.Stop(); err != pgtest.ErrCannotStop {
			t.Errorf("Stop = %v, want ErrCannotStop", err)
		}
	}
	if names[0] == names[1] || !strings.HasSuffix(names[0], "_app") {
		t.Fatalf("databases %v: want two distinct prefixed databases", names)
	}
	for _, s := range servers {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, host.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = ANY($1)", names).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d of %v left after Close (%v)", n, names, err)
	}
}

// With UnixSocket, URL and DSN reach the server through its socket, not
// TCP: the backend sees no client address.
func TestUnixSocket(t *testing.T) {
	ctx := context.Background()
	servers := pgtest.NewWith(t, 1, pgtest.Options{UnixSocket: true})
	s := servers[0]
	if s.External() {
		t.Skip("external server mode: the URL is used as given")
	}
	if err := s.CreateDatabase(ctx, "sock db"); err != nil {
		t.Fatal(err)
	}
	for _, dsn := range []string{s.URL("sock db"), s.DSN("postgres")} {
		if strings.Contains(dsn, "127.0.0.1") {
			t.Errorf("%q names TCP loopback", dsn)
		}
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		var addr *string
		if err := conn.QueryRow(ctx, "SELECT inet_client_addr()::text").Scan(&addr); err != nil {
			t.Fatal(err)
		}
		if addr != nil {
			t.Errorf("%s: client address %s, want none (a Unix-domain socket)", dsn, *addr)
		}
		conn.Close(ctx)
	}
}

// A server must not outlive a process that dies without Close (a test
// binary killed by -timeout, a crashed demo): the child process below
// starts one and exits at once; the server must shut down.
func TestServerDiesWithParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parent-death signal is Linux-only")
	}
	if os.Getenv("PGTEST_CHILD") == "1" {
		servers, err := pgtest.StartServers(context.Background(), 1, pgtest.Options{})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Printf("server %d %s\n", servers[0].Port(), filepath.Dir(servers[0].Dir()))
		os.Exit(0) // no Close
	}
	if os.Getenv(pgtest.EnvDatabaseURL) != "" {
		t.Skip("external server mode")
	}
	if _, err := pgtest.BinDir(pgtest.Options{}); err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithParent$")
	cmd.Env = append(os.Environ(), "PGTEST_CHILD=1")
	out, err := cmd.Output()
	var port int
	var dir string
	for _, line := range strings.Split(string(out), "\n") {
		if n, _ := fmt.Sscanf(line, "server %d %s", &port, &dir); n == 2 {
			break
		}
	}
	if port == 0 {
		t.Fatalf("child did not start a server: %v\n%s", err, out)
	}
	if strings.HasPrefix(filepath.Base(dir), "shardgen-pgtest-") {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return // the server is gone
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("server on port %d still accepts connections 15s after its parent exited", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
