package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Faults injected with real signals into real servers. Timings are logged
// (the figures of the package documentation's "Faults" section), never
// asserted; the bounds asserted are hang checks many times the configured
// timeouts.

// TestFaults runs on one pair of servers; the subtests that break server b
// restore it.
func TestFaults(t *testing.T) {
	f := newPGFixture(t)
	if f.servers[1].External() {
		t.Skip("fault injection needs servers started by pgtest (SHARDGEN_TEST_DATABASE_URL is set)")
	}
	t.Run("PoolTimeoutAtDeadline", func(t *testing.T) { testPoolTimeoutAtDeadline(t, f) })
	t.Run("Misconfigured", func(t *testing.T) { testMisconfigured(t, f) })
	t.Run("FrozenServerBoundedAcquire", func(t *testing.T) { testFrozenServer(t, f) })
	t.Run("BreakerNoDialPerCall", func(t *testing.T) { testBreaker(t, f) })
	t.Run("KilledServerServesAgain", func(t *testing.T) { testKilledServer(t, f) })
}

// A connection handed over right at a waiter's deadline must give
// ErrPoolTimeout (or success), never ErrUnavailable: the server is busy,
// not down.
func testPoolTimeoutAtDeadline(t *testing.T, f *pgFixture) {
	const timeout = 30 * time.Millisecond
	r := f.open(t, PoolConfig{MaxConns: 1, AcquireTimeout: timeout})
	g := mustGroup(t, r)
	q := g.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1")
	ctx := context.Background()
	var timeouts, ok int
	const trials = 200
	for trial := range trials {
		held := make(chan struct{})
		done := make(chan struct{})
		var once sync.Once
		var holdErr error
		go func() {
			defer close(done)
			defer once.Do(func() { close(held) }) // also when the holder got no connection
			// Bounded, so that a loaded machine fails a trial instead of hanging the test.
			hctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			holdErr = g.At(0).WithConn(hctx, func(*pgx.Conn, string) error {
				once.Do(func() { close(held) })
				// Hand the connection over around the waiter's deadline,
				// from 200µs before to 200µs after, spread over trials.
				time.Sleep(timeout + time.Duration(trial%21-10)*20*time.Microsecond)
				return nil
			})
		}()
		<-held
		var one int
		err := g.At(1).QueryRow(ctx, q).Scan(&one)
		<-done
		if holdErr != nil {
			// The holder itself timed out (a loaded machine): no handover
			// to observe in this trial; the waiter's error still counts.
			t.Logf("trial %d: the holder got no connection: %v", trial, holdErr)
		}
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrPoolTimeout) && !errors.Is(err, ErrUnavailable):
			timeouts++
		default:
			t.Fatalf("trial %d: %v; want success or ErrPoolTimeout only", trial, err)
		}
	}
	t.Logf("%d trials at the deadline: %d ErrPoolTimeout, %d succeeded, 0 ErrUnavailable", trials, timeouts, ok)
	if st := r.Stats(); st[1].Trips != 0 || st[1].Down {
		t.Errorf("a busy server tripped its breaker: %+v", st[1])
	}
}

// Wrong password (28P01), missing role (28000), missing database (3D000)
// and TLS the server refuses give ErrMisconfigured, never ErrUnavailable.
func testMisconfigured(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	srv := f.servers[1]
	admin, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE ROLE pwuser LOGIN PASSWORD 'right'; GRANT ALL ON DATABASE app TO pwuser`); err != nil {
		t.Fatal(err)
	}
	hba := filepath.Join(srv.Dir(), "pg_hba.conf")
	orig, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	withPW := "host all pwuser 127.0.0.1/32 scram-sha-256\n" + string(orig)
	if err := os.WriteFile(hba, []byte(withPW), 0o644); err != nil {
		t.Fatal(err)
	}
	reload := func() {
		if _, err := admin.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the postmaster rereads pg_hba.conf on SIGHUP
	}
	reload()
	defer func() {
		os.WriteFile(hba, orig, 0o644)
		reload()
		admin.Exec(ctx, "DROP ROLE pwuser")
	}()

	good := f.urls[1]
	userinfo := func(u string) string { return strings.Replace(good, "postgres@", u+"@", 1) }
	cases := []struct {
		name, url, code string
	}{
		{"wrong password", userinfo("pwuser:wrong"), "28P01"},
		{"missing role", userinfo("nosuchrole"), "28000"},
		{"missing database", srv.URL("nosuchdb"), "3D000"},
		{"TLS refused", strings.Replace(good, "sslmode=disable", "sslmode=require", 1), ""},
	}
	if !strings.Contains(good, "postgres@") || !strings.Contains(good, "sslmode=disable") {
		t.Fatalf("fixture URL %q has no postgres@ userinfo or sslmode=disable to replace", good)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := c.url
			spec := Spec{Databases: []DatabaseSpec{{Name: "default"}}}
			r, err := Open(ctx, Config{Databases: map[string]string{"default": u}}, spec)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			db, _ := r.Database("default")
			for i := range 3 { // the second and third fail fast, as rejected
				_, err = db.Target().Exec(ctx, db.Prepare("SELECT 1"))
				if !errors.Is(err, ErrMisconfigured) || errors.Is(err, ErrUnavailable) {
					t.Fatalf("call %d: %v; want ErrMisconfigured, not ErrUnavailable", i, err)
				}
			}
			if strings.Contains(err.Error(), "wrong") && c.code == "28P01" {
				t.Errorf("error shows the password: %v", err)
			}
			if c.code != "" && !strings.Contains(err.Error(), c.code) {
				t.Errorf("error %v does not carry SQLSTATE %s", err, c.code)
			}
			if err := r.Ping(ctx); !errors.Is(err, ErrMisconfigured) {
				t.Errorf("Ping: %v; want ErrMisconfigured", err)
			}
			t.Logf("%s: %v", c.name, err)
		})
	}
}

// A frozen server (SIGSTOP to the postmaster and every backend): a call
// with no deadline on a connection idle for more than a second (which
// pgxpool would ping, waiting forever) fails with ErrUnavailable about
// AcquireTimeout later; the other server keeps serving.
func testFrozenServer(t *testing.T, f *pgFixture) {
	const timeout = 500 * time.Millisecond
	r := f.open(t, PoolConfig{AcquireTimeout: timeout, ProbeInterval: time.Hour})
	g := mustGroup(t, r)
	q := g.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1")
	ctx := context.Background()
	var one int
	if err := g.At(8).QueryRow(ctx, q).Scan(&one); err != nil { // an idle connection to b
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	srv := f.servers[1]
	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			if err := srv.Signal(syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		}
	}
	defer thaw()

	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- g.At(8).QueryRow(ctx, q).Scan(&one) }()
	var err error
	select {
	case err = <-errc:
	case <-time.After(30 * timeout):
		thaw()
		t.Fatalf("a call on the frozen server still hangs after %s (AcquireTimeout %s)", 30*timeout, timeout)
	}
	first := time.Since(start)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("frozen server: %v; want ErrUnavailable", err)
	}
	// Known down now: the next calls fail without waiting.
	lat := make([]time.Duration, 0, 200)
	for range 200 {
		s := time.Now()
		err := g.At(9).QueryRow(ctx, q).Scan(&one)
		lat = append(lat, time.Since(s))
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("frozen server, breaker open: %v; want ErrUnavailable", err)
		}
	}
	if err := g.At(0).QueryRow(ctx, q).Scan(&one); err != nil {
		t.Errorf("server a while b is frozen: %v", err)
	}
	p50, p99 := percentiles(lat)
	t.Logf("frozen server (SIGSTOP): first call failed after %s (AcquireTimeout %s); then p50 %s p99 %s", first.Round(time.Millisecond), timeout, p50, p99)
	thaw()
}

// A stopped server: with the breaker open (ProbeInterval one hour) 500
// calls cost one dial; then, with a short interval, the restarted server is
// served again.
func testBreaker(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	r := f.open(t, PoolConfig{ProbeInterval: time.Hour})
	g := mustGroup(t, r)
	q := g.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1")
	srv := f.servers[1]
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	defer srv.Start()
	var one int
	lat := make([]time.Duration, 0, 500)
	before := r.Stats()[1]
	for i := range 500 {
		s := time.Now()
		err := g.At(Shard(8+i%8)).QueryRow(ctx, q).Scan(&one)
		lat = append(lat, time.Since(s))
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrMisconfigured) {
			t.Fatalf("stopped server, call %d: %v; want ErrUnavailable", i, err)
		}
	}
	after := r.Stats()[1]
	if dials := after.NewConns - before.NewConns; dials != 1 {
		t.Errorf("500 calls to a stopped server dialled %d times; want 1 (the breaker is open)", dials)
	}
	if after.FastFails-before.FastFails != 499 || !after.Down {
		t.Errorf("stats %+v; want 499 fast failures and Down", after)
	}
	p50, p99 := percentiles(lat)
	t.Logf("stopped server: failure latency p50 %s p99 %s over 500 calls, 1 dial", p50, p99)

	// Serve again after a restart, with the default probe interval.
	r2 := f.open(t, PoolConfig{})
	g2 := mustGroup(t, r2)
	if err := g2.At(8).QueryRow(ctx, g2.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1")).Scan(&one); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("stopped server: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	serveAgain(t, g2, g2.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1"), up, "stopped and restarted (SIGINT, Start)")
}

// serveAgain calls until the shard on server b answers, logging how long
// after the server accepted connections again that took.
func serveAgain(t *testing.T, g *Group, q *Query, up time.Time, what string) {
	t.Helper()
	var one int
	for {
		err := g.At(8).QueryRow(context.Background(), q).Scan(&one)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s: %v", what, err)
		}
		if time.Since(up) > time.Minute {
			t.Fatalf("%s: not served a minute after it accepted connections: %v", what, err)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("%s: served again %s after the server accepted connections (ProbeInterval %s)", what, time.Since(up).Round(time.Millisecond), DefaultProbeInterval)
}

// SIGKILL to every process of the server: calls fail with ErrUnavailable,
// server a is unaffected, and after crash recovery b is served again.
func testKilledServer(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	r := f.open(t, PoolConfig{})
	g := mustGroup(t, r)
	q := g.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1")
	var one int
	for s := range Shard(16) { // connections to both servers
		if err := g.At(s).QueryRow(ctx, q).Scan(&one); err != nil {
			t.Fatal(err)
		}
	}
	srv := f.servers[1]
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	var lat []time.Duration
	for i := range 200 {
		s := time.Now()
		err := g.At(Shard(8+i%8)).QueryRow(ctx, q).Scan(&one)
		lat = append(lat, time.Since(s))
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("killed server, call %d: %v; want ErrUnavailable", i, err)
		}
	}
	if err := g.At(0).QueryRow(ctx, q).Scan(&one); err != nil {
		t.Errorf("server a after b was killed: %v", err)
	}
	if err := r.Ping(ctx); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), `"b"`) && !strings.Contains(err.Error(), "b (") {
		t.Errorf("Router.Ping with b killed: %v; want ErrUnavailable naming b", err)
	}
	p50, p99 := percentiles(lat)
	t.Logf("killed server (SIGKILL): failure latency p50 %s p99 %s", p50, p99)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	serveAgain(t, g, q, time.Now(), "killed and restarted (SIGKILL, crash recovery)")
	if err := r.Ping(ctx); err != nil {
		t.Errorf("Router.Ping after restart: %v", err)
	}
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*99/100]
}
