package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/examples/blog/blogdb"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
	"github.com/shardgen/shardgen/runtime/redistest"
	"github.com/shardgen/shardgen/runtime/shardredis"
)

// TestRedisDemo runs the Redis part of the demo on two real PostgreSQL and
// two real Redis servers and checks what it says against the servers; then,
// with one Redis server killed, reads through the cache fall back to the
// databases.
func TestRedisDemo(t *testing.T) {
	servers := pgtest.New(t, 2)
	rs := redistest.NewWith(t, 2, redistest.Options{Persistence: redistest.AOFAlways})
	cfg := databases(t, servers[0], servers[1], "_redis")
	ctx := testContext(t)
	r, err := runtime.Open(ctx, cfg, blogdb.Spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := runtime.Migrate(ctx, r, blogdb.Spec, runtime.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	authors := []blogdb.UserID{1, 2, 3, 4, 5, 6, 7, 8}
	rcfg := throwawayRedisConfig(rs[0].URL(), rs[1].URL())
	var out bytes.Buffer
	res, err := RedisDemo(ctx, newPrinter(&out), cfg, rcfg, authors)
	if err != nil {
		t.Fatalf("RedisDemo: %v\n%s", err, out.String())
	}
	// The timeline: trimmed to 500, newest first, fed by every insert.
	if res.TimelineLen != TimelineMax || len(res.Published) != TimelineMax+20 {
		t.Errorf("timeline of %d after %d posts", res.TimelineLen, len(res.Published))
	}
	newest := slices.Clone(res.Published[len(res.Published)-5:])
	slices.Reverse(newest)
	if !slices.Equal(res.Newest, newest) {
		t.Errorf("newest %v, want %v", res.Newest, newest)
	}
	if got, err := rs[0].Do("ZCARD", timelineKey); err != nil || got != "500" {
		t.Errorf("ZCARD on the named server: %q %v", got, err)
	}
	// The counter: pending read = stored + increments, one row updated by
	// the flush, the column equal to the increments afterwards.
	if res.Pending != res.StoredBefore+res.Increments || res.StoredAfter != res.Pending || res.Increments != 400 {
		t.Errorf("views: before %d, pending %d, after %d, increments %d", res.StoredBefore, res.Pending, res.StoredAfter, res.Increments)
	}
	if res.Flush.Rows != 1 || res.Flush.Statements != 1 {
		t.Errorf("flush of one hot post: %+v, want one statement updating one row", res.Flush)
	}
	db, err := blogdb.New(r)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := db.Posts.Get(ctx, res.Counted); err != nil || p.Views != res.StoredAfter+10 {
		t.Errorf("stored views of %d after the interval flusher: %v %v, want %d", res.Counted, p, err, res.StoredAfter+10)
	}
	// The cache: the raw UPDATE is not seen (a hit), the repository's
	// writes are.
	if !strings.HasPrefix(res.Cached, "timeline post ") || res.Fresh != "updated through Posts.Update" || res.TxFresh != "updated in a shard transaction" {
		t.Errorf("cache served %q, %q, %q", res.Cached, res.Fresh, res.TxFresh)
	}
	for _, want := range []string{"Timeline:", "ZCARD blog:timeline = 500", "BlogCounters.Flush: 1 statement(s), 1 row(s)", "(a hit, from Redis)", "invalidated after the COMMIT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// Redis server r1 (shards 8-15) down: cached reads of every post still
	// succeed, from the databases.
	rdb, err := shardredis.Open(rcfg, blogdb.Spec)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	red, err := blogdb.NewRedis(db, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs[1].Kill(); err != nil {
		t.Fatal(err)
	}
	posts, err := red.Posts.GetMany(ctx, res.Published)
	if err != nil {
		t.Fatalf("GetMany with a Redis server down: %v", err)
	}
	onDown := 0
	for i, p := range posts {
		if p == nil || p.ID != int64(res.Published[i]) {
			t.Fatalf("post %d missing with a Redis server down", res.Published[i])
		}
		if p.ID != 0 && blogdb.PostID(p.ID).Shard() >= 8 {
			onDown++
		}
	}
	if onDown == 0 {
		t.Fatal("no post on the shards of the stopped Redis server: the test shows nothing")
	}
	if _, err := red.Posts.Get(ctx, res.Published[len(res.Published)-1]); err != nil {
		t.Errorf("Get with a Redis server down: %v", err)
	}
}
