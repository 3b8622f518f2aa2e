package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/examples/blog/blogdb"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// databases creates a fresh set of the demo's databases on the two servers
// (suffix keeps the subtests apart) and returns the Config that maps them.
func databases(t *testing.T, a, b *pgtest.Server, suffix string) runtime.Config {
	t.Helper()
	ctx := context.Background()
	for _, db := range []string{dbDefault + suffix, dbAnalytics + suffix, dbBlog + suffix} {
		if err := a.CreateDatabase(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.CreateDatabase(ctx, dbBlog+suffix); err != nil {
		t.Fatal(err)
	}
	return runtime.Config{
		Databases: map[string]string{"default": a.URL(dbDefault + suffix), "analytics": a.URL(dbAnalytics + suffix)},
		Groups: map[string][]runtime.ServerConfig{"blog": {
			{Name: "a", URL: a.URL(dbBlog + suffix), Shards: "0-7"},
			{Name: "b", URL: b.URL(dbBlog + suffix), Shards: "8-15"},
		}},
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestDemo runs the demo and the program on two real servers (started
// once, with a fresh set of databases per subtest).
func TestDemo(t *testing.T) {
	servers := pgtest.New(t, 2)
	a, b := servers[0], servers[1]
	t.Run("rows are where the router says", func(t *testing.T) { testDemoPlacement(t, a, b) })
	t.Run("URLs from the environment", func(t *testing.T) { testRunWithEnvironment(t, a, b) })
	t.Run("URLs from a config file", func(t *testing.T) { testRunWithConfigFile(t, a, b) })
}

// testDemoPlacement runs the demo and checks, on the servers themselves,
// that every row is where the router says: each logical shard's schema
// exists only on the server owning its range, each post and comment is in
// the schema of the shard its ID carries, and both servers hold rows. A
// second run finds nothing to migrate.
func testDemoPlacement(t *testing.T, a, b *pgtest.Server) {
	cfg := databases(t, a, b, "")
	ctx := testContext(t)

	var out bytes.Buffer
	res, err := Demo(ctx, newPrinter(&out), cfg, "test servers", Options{})
	if err != nil {
		t.Fatalf("Demo: %v\noutput:\n%s", err, out.String())
	}
	t.Logf("demo output:\n%s", out.String())

	wantPosts := 1 // the post written in a transaction
	for _, a := range authors {
		wantPosts += a.posts
	}
	if len(res.Posts) != wantPosts || res.TotalPosts != int64(wantPosts) {
		t.Errorf("posts: wrote %d, CountAllShards %d, want %d", len(res.Posts), res.TotalPosts, wantPosts)
	}
	if res.Streamed != res.TotalPosts {
		t.Errorf("the backfill streamed %d posts, CountAllShards says %d", res.Streamed, res.TotalPosts)
	}
	if res.TotalComments != int64(len(res.Comments)) {
		t.Errorf("CountAllShards says %d comments, the demo kept %d", res.TotalComments, len(res.Comments))
	}
	for _, srv := range []string{"a", "b"} {
		if res.PostsPerServer[srv] == 0 || res.CommentsPerServer[srv] == 0 {
			t.Errorf("server %s holds %d posts and %d comments; the demo must put rows on both servers", srv, res.PostsPerServer[srv], res.CommentsPerServer[srv])
		}
	}
	if got := res.PostsPerServer["a"] + res.PostsPerServer["b"]; got != res.TotalPosts {
		t.Errorf("per-server post counts sum to %d, CountAllShards says %d", got, res.TotalPosts)
	}

	// Pagination: alice's 5 posts in pages of 2, newest first, no repeats.
	var sizes []int
	var listed []blogdb.PostID
	for _, p := range res.Pages {
		sizes = append(sizes, len(p))
		listed = append(listed, p...)
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Errorf("page sizes %v, want [2 2 1]", sizes)
	}
	alicePosts := slices.Clone(res.Posts[:authors[0].posts])
	slices.Reverse(alicePosts)
	if !slices.Equal(listed, alicePosts) {
		t.Errorf("paginated listing %v, want alice's posts newest first %v", listed, alicePosts)
	}

	// Ask the servers directly.
	conns := map[string]*pgx.Conn{}
	for name, s := range map[string]*pgtest.Server{"a": a, "b": b} {
		c, err := pgx.Connect(ctx, s.URL(dbBlog))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		conns[name] = c
	}
	owner := func(s runtime.Shard) string {
		if s <= 7 {
			return "a"
		}
		return "b"
	}
	for s := runtime.Shard(0); s < 16; s++ {
		schema := runtime.SchemaName("blog", s)
		for name, c := range conns {
			var exists bool
			if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
				t.Fatal(err)
			}
			if want := name == owner(s); exists != want {
				t.Errorf("schema %s exists on server %s: %v, want %v", schema, name, exists, want)
			}
		}
	}
	find := func(table string, id int64, s runtime.Shard) {
		t.Helper()
		var n int
		q := fmt.Sprintf("SELECT count(*) FROM %s.%s WHERE id = $1", runtime.QuoteIdent(runtime.SchemaName("blog", s)), runtime.QuoteIdent(table))
		if err := conns[owner(s)].QueryRow(ctx, q, id).Scan(&n); err != nil {
			t.Fatalf("%s %d on server %s: %v", table, id, owner(s), err)
		}
		if n != 1 {
			t.Errorf("%s %d: %d rows in %s on server %s, want 1", table, id, n, runtime.SchemaName("blog", s), owner(s))
		}
	}
	for _, id := range res.Posts {
		find("posts", int64(id), id.Shard())
	}
	for _, id := range res.Comments {
		find("comments", int64(id), id.Shard())
	}

	for _, want := range []string{"server a (shards 0-7):", "server b (shards 8-15):", "runtime.ErrWrongShard", "runtime.ErrNotFound", "page 3:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}

	// A second run on the same servers: nothing left to migrate, the
	// rows of both runs are counted.
	out.Reset()
	res2, err := Demo(ctx, newPrinter(&out), cfg, "test servers", Options{RunTag: "again"})
	if err != nil {
		t.Fatalf("second Demo: %v\noutput:\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), " 0 schemas migrated now") {
		t.Errorf("second run migrated again:\n%s", out.String())
	}
	if res2.TotalPosts != 2*int64(wantPosts) {
		t.Errorf("after two runs CountAllShards = %d posts, want %d", res2.TotalPosts, 2*wantPosts)
	}
}

// testRunWithEnvironment checks that run uses the servers named by the
// SHARDGEN_* environment variables and starts none of its own.
func testRunWithEnvironment(t *testing.T, a, b *pgtest.Server) {
	cfg := databases(t, a, b, "_env")
	servers := cfg.Groups["blog"]
	environ := []string{
		"PATH=" + os.Getenv("PATH"),
		"SHARDGEN_DATABASE_DEFAULT_URL=" + cfg.Databases["default"],
		"SHARDGEN_DATABASE_ANALYTICS_URL=" + cfg.Databases["analytics"],
		"SHARDGEN_GROUP_BLOG_SERVERS=a,b",
		"SHARDGEN_GROUP_BLOG_SERVER_A_URL=" + servers[0].URL,
		"SHARDGEN_GROUP_BLOG_SERVER_A_SHARDS=" + servers[0].Shards,
		"SHARDGEN_GROUP_BLOG_SERVER_B_URL=" + servers[1].URL,
		"SHARDGEN_GROUP_BLOG_SERVER_B_SHARDS=" + servers[1].Shards,
	}
	var out bytes.Buffer
	if err := run(testContext(t), &out, environ, "", "/nonexistent", false); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	checkRunOutput(t, out.String(), "SHARDGEN_* environment variables", a, b)
}

// testRunWithConfigFile checks that run uses the servers of a -config file.
func testRunWithConfigFile(t *testing.T, a, b *pgtest.Server) {
	cfg := databases(t, a, b, "_file")
	var list []map[string]string
	for _, s := range cfg.Groups["blog"] {
		list = append(list, map[string]string{"name": s.Name, "url": s.URL, "shards": s.Shards})
	}
	file := map[string]any{"databases": cfg.Databases, "groups": map[string]any{"blog": list}}
	data, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shards.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(testContext(t), &out, nil, path, "/nonexistent", false); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	checkRunOutput(t, out.String(), "config file "+path, a, b)
}

// TestRunIncompleteConfig checks that a configuration missing databases
// and groups is refused before anything runs, naming what is missing and
// never the password.
func TestRunIncompleteConfig(t *testing.T) {
	var out bytes.Buffer
	err := run(testContext(t), &out, []string{"SHARDGEN_DATABASE_DEFAULT_URL=postgres://app:hunter2@127.0.0.1:1/app"}, "", "/nonexistent", false)
	if err == nil {
		t.Fatal("run with only a default database URL succeeded; want a config error naming the missing ones")
	}
	for _, want := range []string{"analytics", "blog"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error()+out.String(), "hunter2") {
		t.Errorf("the password leaked: %v\n%s", err, out.String())
	}
}

func checkRunOutput(t *testing.T, out, source string, a, b *pgtest.Server) {
	t.Helper()
	if !strings.Contains(out, "== Layout ("+source+")") {
		t.Errorf("output does not say it uses %s:\n%s", source, out)
	}
	if strings.Contains(out, "throwaway") {
		t.Errorf("run started throwaway servers although URLs were given:\n%s", out)
	}
	for _, want := range []string{fmt.Sprintf("127.0.0.1:%d/", a.Port()), fmt.Sprintf("127.0.0.1:%d/", b.Port())} {
		if !a.External() && !strings.Contains(out, want) {
			t.Errorf("output does not show server %s:\n%s", want, out)
		}
	}
}

// TestRunThrowaway runs the program as `go run ./examples/blog` does: no
// URLs, so it starts two servers of its own, and stops them and removes
// their data directories at the end.
func TestRunThrowaway(t *testing.T) {
	if _, err := pgtest.BinDir(pgtest.Options{}); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI=true requires the PostgreSQL binaries", err)
		}
		t.Skipf("%v; the demo's throwaway mode needs the PostgreSQL binaries", err)
	}
	// The clusters go in a temporary directory of our own, which must be
	// empty again afterwards; when running as root the servers run as
	// user postgres, who must be able to reach it.
	tmp := t.TempDir()
	for _, d := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("TMPDIR", tmp)

	var out bytes.Buffer
	if err := run(testContext(t), &out, nil, "", "", false); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"Starting two throwaway PostgreSQL servers", "server a (shards 0-7):", "server b (shards 8-15):", "Shutting down"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind in the temporary directory: %s", e.Name())
	}
	// Both servers are stopped: their ports, shown in the layout, refuse
	// connections.
	ports := regexp.MustCompile(`server [ab] 127\.0\.0\.1:(\d+)/`).FindAllStringSubmatch(s, -1)
	if len(ports) != 2 {
		t.Fatalf("want the two servers' ports in the output, found %v:\n%s", ports, s)
	}
	for _, m := range ports {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+m[1], time.Second); err == nil {
			c.Close()
			t.Errorf("a server still listens on port %s after the demo", m[1])
		}
	}
}
