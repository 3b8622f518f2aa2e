package main

import (
	"bytes"
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/examples/blog/blogdb"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// shardLine matches a logged statement on a shard of group blog.
var shardLine = regexp.MustCompile(`level=INFO msg=Query .*group=blog shard=(\d+) schema=blog_(\d{4}) server=([ab]) `)

// TestQueryLog runs the demo with every statement logged through slog (the
// -log flag's logger, installed with the runtime's pgx hooks) and checks
// the lines against the placement: each statement on a shard names the
// group, the shard, its schema and the server that owns it, each on the
// default database names the database; a failed statement is logged at
// ERROR with its shard and server; no line carries a statement's
// arguments (user data).
func TestQueryLog(t *testing.T) {
	servers := pgtest.New(t, 2)
	a, b := servers[0], servers[1]
	cfg := databases(t, a, b, "_log")
	ctx := testContext(t)

	var logs, out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	res, err := Demo(ctx, newPrinter(&out), cfg, "test servers", Options{Log: log, LogLevel: slog.LevelInfo})
	if err != nil {
		t.Fatalf("Demo: %v\n%s", err, out.String())
	}
	servers0 := map[string]bool{}
	n := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		m := shardLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		shard, _ := strconv.Atoi(m[1])
		schema, _ := strconv.Atoi(m[2])
		wantServer := "a"
		if shard >= 8 {
			wantServer = "b"
		}
		if schema != shard || m[3] != wantServer {
			t.Errorf("shard %d logged with schema blog_%s on server %s, want server %s: %s", shard, m[2], m[3], wantServer, line)
		}
		servers0[m[3]] = true
	}
	if n < len(res.Posts) || !servers0["a"] || !servers0["b"] {
		t.Errorf("%d shard statements logged (servers %v) for %d posts:\n%s", n, servers0, len(res.Posts), logs.String())
	}
	if !strings.Contains(logs.String(), "msg=Query database=default schema=public server=default ") {
		t.Errorf("no statement on the default database logged:\n%s", logs.String())
	}
	// Fan-out rounds and migrations serve many shards at once: their
	// lines name the pool's users.
	for _, pool := range []string{"pool=blog/a ", "pool=blog/b "} {
		if !strings.Contains(logs.String(), pool) {
			t.Errorf("no statement logged with %s:\n%s", pool, logs.String())
		}
	}
	for _, leak := range []string{"args=", "pid=", "@example.com"} {
		if strings.Contains(logs.String(), leak) {
			t.Errorf("the log shows %q:\n%s", leak, logs.String())
		}
	}

	// Failed statements, at the -log flag's default level.
	logs.Reset()
	log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))
	c := cfg
	logQueries(&c, log, slog.LevelError)
	r, err := runtime.Open(ctx, c, blogdb.Spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	db, err := blogdb.New(r)
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.Users.Get(ctx, res.Users[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Users.Insert(ctx, &blogdb.User{Name: "again", Email: u.Email}); err == nil {
		t.Fatal("a second user with the same e-mail was inserted")
	}
	g, _ := r.Group("blog")
	if _, err := g.At(11).Exec(ctx, g.Prepare("SELECT 1 FROM @schema@.no_such_table")); !errors.Is(err, runtime.ErrNotMigrated) {
		t.Fatalf("statement on a missing table: %v", err)
	}
	if _, err := db.Posts.Get(ctx, res.Posts[0]); err != nil { // succeeds: not logged at ERROR
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want the 2 failed statements logged, got:\n%s", logs.String())
	}
	for i, want := range []string{
		"level=ERROR msg=Query database=default schema=public server=default err=",
		"level=ERROR msg=Query group=blog shard=11 schema=blog_0011 server=b err=",
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s\nwant it to contain %s", i+1, lines[i], want)
		}
	}
	if strings.Contains(logs.String(), u.Email) {
		t.Errorf("the log shows the e-mail address: %s", logs.String())
	}
}
