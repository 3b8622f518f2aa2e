package runtime

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardgen/shardgen/runtime/pgtest"
)

// Environment of a child process of TestMigrateConcurrentProcesses.
const (
	envMigrateChild   = "SHARDGEN_TEST_MIGRATE_CHILD"   // "1" in a child
	envMigrateURLs    = "SHARDGEN_TEST_MIGRATE_URLS"    // the servers' URLs, space-separated
	envMigrateShards  = "SHARDGEN_TEST_MIGRATE_SHARDS"  // shards of group blog
	envMigrateVersion = "SHARDGEN_TEST_MIGRATE_VERSION" // 1 or 2: which Spec
	envMigrateMeasure = "SHARDGEN_TEST_MIGRATE_MEASURE" // "1": also time one process alone
)

// concurrentSpec is the Spec of version v of the app the children migrate:
// v2 adds a column to the populated posts table of every shard.
func concurrentSpec(shards, v int) Spec {
	if v == 1 {
		return blogSpec(shards)
	}
	return blogSpec(shards, Migration{Version: 2, Name: "body", SQL: "ALTER TABLE @schema@.posts ADD COLUMN body text NOT NULL DEFAULT ''"})
}

// migrateChild is the child's side: open a router, say "ready", wait for
// the parent's go (a line on stdin), migrate, print "ok <ms>" or the
// error.
func migrateChild() {
	shards, _ := strconv.Atoi(os.Getenv(envMigrateShards))
	v, _ := strconv.Atoi(os.Getenv(envMigrateVersion))
	urls := strings.Fields(os.Getenv(envMigrateURLs))
	spec := concurrentSpec(shards, v)
	cfg := splitConfig("blog", shards, urls, PoolConfig{MaxConns: 8, AcquireTimeout: 30 * time.Second})
	cfg.Databases = map[string]string{"default": urls[0]}
	ctx := context.Background()
	r, err := Open(ctx, cfg, spec)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Println("error no go:", err)
		os.Exit(2)
	}
	start := time.Now()
	err = Migrate(ctx, r, spec, MigrateOptions{LockTimeout: 30 * time.Second})
	if err != nil {
		fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " | "))
		os.Exit(1)
	}
	fmt.Println("ok", time.Since(start).Milliseconds())
	os.Exit(0)
}

// runMigrateChildren starts n child processes migrating version v of the
// app on urls, releases them at once, and returns each one's elapsed
// milliseconds; any child that does not return nil fails the test.
func runMigrateChildren(t *testing.T, n, shards, v int, urls []string) []int {
	t.Helper()
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Scanner
		lines []string
	}
	children := make([]*child, n)
	for i := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMigrateConcurrentProcesses$", "-test.timeout=10m")
		cmd.Env = append(os.Environ(), envMigrateChild+"=1", envMigrateURLs+"="+strings.Join(urls, " "),
			envMigrateShards+"="+strconv.Itoa(shards), envMigrateVersion+"="+strconv.Itoa(v))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		children[i] = &child{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	}
	for i, c := range children {
		if !c.out.Scan() || c.out.Text() != "ready" {
			t.Fatalf("child %d did not get ready: %q", i, c.out.Text())
		}
	}
	for _, c := range children { // go, all at once
		if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := make([]int, n)
	var wg sync.WaitGroup
	for i, c := range children {
		wg.Go(func() {
			for c.out.Scan() {
				c.lines = append(c.lines, c.out.Text())
			}
			err := c.cmd.Wait()
			last := strings.Join(c.lines, "\n")
			if _, scanErr := fmt.Sscanf(last, "ok %d", &elapsed[i]); err != nil || scanErr != nil {
				t.Errorf("child %d of %d (version %d): %v: %s", i, n, v, err, last)
			}
		})
	}
	wg.Wait()
	return elapsed
}

// TestMigrateConcurrentProcesses starts 4 OS processes that migrate 1,024
// shards on 2 servers at the same moment, as the replicas of an app do at
// start-up: every one returns nil, and the history has exactly one row per
// application. Then the same with a change of the populated tables (the
// preflight and the apply both race).
func TestMigrateConcurrentProcesses(t *testing.T) {
	if os.Getenv(envMigrateChild) == "1" {
		migrateChild()
		return
	}
	const shards, procs = 1024, 4
	_, urls := pgtest.NewDatabase(t, 2, "app")
	elapsed := runMigrateChildren(t, procs, shards, 1, urls)
	t.Logf("%d processes migrated %d fresh shards at once: %v ms", procs, shards, elapsed)
	if t.Failed() {
		return
	}

	spec := concurrentSpec(shards, 2)
	r := openBlog(t, spec, urls)
	ctx := context.Background()
	g, _ := r.Group("blog")
	checkHistory := func(want string) {
		t.Helper()
		q := g.Prepare("SELECT string_agg(version || '/' || seq, ',' ORDER BY version, seq) FROM @schema@.shardgen_migrations WHERE target = 'blog'")
		for s := range Shard(shards) {
			var got string
			if err := g.At(s).QueryRow(ctx, q).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("shard %d: history %s, want %s", s, got, want)
			}
		}
		def, _ := r.Database("default")
		var rows int
		if err := def.Target().QueryRow(ctx, def.Prepare("SELECT count(*) FROM @schema@.shardgen_migrations WHERE target = 'default'")).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("database default: %d history rows (%v), want 1", rows, err)
		}
	}
	checkHistory("0/1,1/1")

	// Populate every shard, then change the tables from 4 processes.
	insert := g.Prepare("INSERT INTO @schema@.posts (author_id, title) VALUES (1, 'a'), (2, 'b')")
	for s := range Shard(shards) {
		if _, err := g.At(s).Exec(ctx, insert); err != nil {
			t.Fatal(err)
		}
	}
	elapsed = runMigrateChildren(t, procs, shards, 2, urls)
	t.Logf("%d processes changed %d populated shards at once: %v ms", procs, shards, elapsed)
	checkHistory("0/1,1/1,2/1")
	var body string
	if err := g.At(shards-1).QueryRow(ctx, g.Prepare("SELECT body FROM @schema@.posts LIMIT 1")).Scan(&body); err != nil || body != "" {
		t.Errorf("body after the change = %q, %v", body, err)
	}

	if os.Getenv(envMigrateMeasure) == "1" {
		// For the record: one process alone on fresh databases.
		servers := pgtest.New(t, 2)
		fresh := make([]string, len(servers))
		for i, s := range servers {
			if err := s.CreateDatabase(ctx, "alone"); err != nil {
				t.Fatal(err)
			}
			fresh[i] = s.URL("alone")
		}
		t.Logf("one process alone migrated %d fresh shards: %v ms", shards, runMigrateChildren(t, 1, shards, 1, fresh))
		t.Logf("one process alone changed %d shards: %v ms", shards, runMigrateChildren(t, 1, shards, 2, fresh))
	}
}
