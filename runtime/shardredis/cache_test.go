package shardredis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
	"github.com/shardgen/shardgen/runtime/redistest"
)

type post struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
}

var cacheSpec = runtime.Spec{Groups: []runtime.GroupSpec{{Name: "blog", Shards: 16, Migrations: []runtime.Migration{{
	Version: 1, Name: "tables", Declarative: true,
	SQL: `CREATE TABLE IF NOT EXISTS @schema@.posts (id bigint PRIMARY KEY, title text NOT NULL);`,
}}}}}

// TestCache runs the cache tests on one set of servers (two PostgreSQL,
// two Redis): starting them is most of the cost.
func TestCache(t *testing.T) {
	e := newCacheEnv(t, time.Second)
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *cacheEnv)
	}{
		{"ReadThrough", testCacheReadThrough},
		{"NoStaleValue", testCacheNoStaleValue},
		{"InvalidateAfterCommit", testCacheInvalidateAfterCommit},
		{"Stampede", testCacheStampede},
		{"RedisDownFallsBack", testCacheRedisDownFallsBack},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.reset(t)
			c.fn(t, e)
		})
	}
}

// reset empties both Redis servers, restores every title and zeroes the
// counts between subtests.
func (e *cacheEnv) reset(t *testing.T) {
	t.Helper()
	for _, r := range e.redis {
		if _, err := r.Do("FLUSHALL"); err != nil {
			t.Fatal(err)
		}
	}
	restore := e.db.Prepare(`UPDATE @schema@.posts SET title = 'post ' || id`)
	for s := range e.db.Shards() {
		if _, err := e.db.At(runtime.Shard(s)).Exec(context.Background(), restore); err != nil {
			t.Fatal(err)
		}
	}
	e.loads.Store(0)
	e.queries.Store(0)
	e.c.testAfterLease, e.c.testAfterLoad = nil, nil
}

type cacheEnv struct {
	db      *runtime.Group
	rdb     *Redis
	c       *Cache[int64, post]
	redis   []*redistest.Server
	loads   atomic.Int64 // Load calls
	queries atomic.Int64 // database statements run by Load
	update  *runtime.Query
}

func newCacheEnv(t testing.TB, ioTimeout time.Duration) *cacheEnv {
	t.Helper()
	ctx := context.Background()
	_, urls := pgtest.NewDatabase(t, 2, "cache")
	rs := redistest.NewWith(t, 2, redistest.Options{Persistence: redistest.None})
	router, err := runtime.Open(ctx, runtime.Config{Groups: map[string][]runtime.ServerConfig{"blog": {
		{Name: "a", URL: urls[0], Shards: "0-7"}, {Name: "b", URL: urls[1], Shards: "8-15"},
	}}}, cacheSpec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(router.Close)
	if err := runtime.Migrate(ctx, router, cacheSpec, runtime.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	rdb, err := Open(Config{IOTimeout: ioTimeout, Groups: map[string][]runtime.ServerConfig{"blog": {
		{Name: "r1", URL: rs[0].URL(), Shards: "0-3"}, {Name: "r2", URL: rs[1].URL(), Shards: "4-15"},
	}}}, cacheSpec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rdb.Close)
	g, _ := router.Group("blog")
	e := &cacheEnv{db: g, rdb: rdb, redis: rs, update: g.Prepare(`UPDATE @schema@.posts SET title = $2 WHERE id = $1`)}
	ins := g.Prepare(`INSERT INTO @schema@.posts (id, title) VALUES ($1, $2)`)
	for id := int64(1); id <= 200; id++ {
		if _, err := g.At(g.ShardOfInt64(id)).Exec(ctx, ins, id, fmt.Sprintf("post %d", id)); err != nil {
			t.Fatal(err)
		}
	}
	sel := g.Prepare(`SELECT id, title FROM @schema@.posts WHERE id = ANY($1)`)
	e.c, err = NewCache(rdb, "blog", CacheSpec[int64, post]{
		Name: "posts", TTL: time.Minute,
		ShardOf: func(id int64) (runtime.Shard, error) { return g.ShardOfInt64(id), nil },
		Load: func(ctx context.Context, ids []int64) (map[int64]post, error) {
			e.loads.Add(1)
			byShard := map[runtime.Shard][]int64{}
			for _, id := range ids {
				byShard[g.ShardOfInt64(id)] = append(byShard[g.ShardOfInt64(id)], id)
			}
			out := map[int64]post{}
			for s, ids := range byShard {
				e.queries.Add(1)
				rows, err := g.At(s).Query(ctx, sel, ids)
				if err != nil {
					return nil, err
				}
				for rows.Next() {
					var p post
					if err := rows.Scan(&p.ID, &p.Title); err != nil {
						rows.Close()
						return nil, err
					}
					out[p.ID] = p
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return nil, err
				}
			}
			return out, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// setTitle updates a post in the database and invalidates it after the
// commit, as generated write methods do.
func (e *cacheEnv) setTitle(t *testing.T, id int64, title string) {
	t.Helper()
	ctx := context.Background()
	err := e.db.InTx(ctx, e.db.ShardOfInt64(id), func(tx *runtime.Tx) error {
		if _, err := tx.Exec(ctx, e.update, id, title); err != nil {
			return err
		}
		e.c.InvalidateAfter(tx, id)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cached returns the raw Redis value of a post's key ("" when absent).
func (e *cacheEnv) cached(t *testing.T, id int64) string {
	t.Helper()
	it, err := e.c.item(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range e.redis {
		if r.Addr()+"/0" == it.srv.Addr() {
			v, err := r.Do("GET", it.rkey)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no server for %s", it.srv)
	return ""
}

func mgetCalls(t testing.TB, r *redistest.Server) int {
	t.Helper()
	info, err := r.Do("INFO", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_mget:calls="); ok {
			var n int
			fmt.Sscanf(rest, "%d", &n)
			return n
		}
	}
	return 0
}

func testCacheReadThrough(t *testing.T, e *cacheEnv) {
	ctx := context.Background()
	p, err := e.c.Get(ctx, 7)
	if err != nil || p.Title != "post 7" || e.loads.Load() != 1 {
		t.Fatalf("first Get %+v %v, %d loads", p, err, e.loads.Load())
	}
	if v := e.cached(t, 7); v != `v{"id":7,"title":"post 7"}` {
		t.Fatalf("cached %q", v)
	}
	// A hit does not read the database: change the row behind the cache's
	// back (no invalidation) and the cached copy is still served.
	if _, err := e.db.At(e.db.ShardOfInt64(7)).Exec(ctx, e.update, int64(7), "changed behind the cache"); err != nil {
		t.Fatal(err)
	}
	if p, err := e.c.Get(ctx, 7); err != nil || p.Title != "post 7" || e.loads.Load() != 1 {
		t.Fatalf("second Get %+v %v, %d loads", p, err, e.loads.Load())
	}
	if _, err := e.c.Get(ctx, 999); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("missing row: %v", err)
	}

	// GetMany of 100: the misses in one Load, then 100 hits in one MGET per
	// Redis server.
	ids := make([]int64, 100)
	for i := range ids {
		ids[i] = int64(101 + i)
	}
	loads := e.loads.Load()
	m, err := e.c.GetMany(ctx, append(ids, 5000))
	if err != nil || len(m) != 100 || e.loads.Load() != loads+1 {
		t.Fatalf("GetMany: %d rows, %v, %d loads", len(m), err, e.loads.Load()-loads)
	}
	before := []int{mgetCalls(t, e.redis[0]), mgetCalls(t, e.redis[1])}
	m, err = e.c.GetMany(ctx, ids)
	if err != nil || len(m) != 100 || e.loads.Load() != loads+1 {
		t.Fatalf("GetMany of hits: %d rows, %v, %d loads", len(m), err, e.loads.Load()-loads-1)
	}
	for _, id := range ids {
		if m[id].Title != fmt.Sprintf("post %d", id) {
			t.Fatalf("post %d: %+v", id, m[id])
		}
	}
	for i, r := range e.redis {
		if got := mgetCalls(t, r) - before[i]; got != 1 {
			t.Errorf("%s: %d MGETs for one GetMany of hits, want 1", r.Name(), got)
		}
	}
}

// testCacheNoStaleValue forces the documented race: a reader misses, and
// the write commits and invalidates between the reader's database read and
// its fill (or between its lease and its read). The old value must never
// stay cached.
func testCacheNoStaleValue(t *testing.T, e *cacheEnv) {
	ctx := context.Background()
	const rounds = 200
	for i := range rounds {
		id := int64(1 + i%50)
		title := fmt.Sprintf("title %d", i)
		if err := e.c.Invalidate(ctx, id); err != nil {
			t.Fatal(err)
		}
		write := func([]int64) { e.setTitle(t, id, title) }
		e.c.testAfterLease, e.c.testAfterLoad = nil, nil
		if i%2 == 0 {
			e.c.testAfterLoad = write // the reader holds the old row
		} else {
			e.c.testAfterLease = write
		}
		if i%4 < 2 {
			_, err := e.c.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
		} else if _, err := e.c.GetMany(ctx, []int64{id, id + 100}); err != nil {
			t.Fatal(err)
		}
		e.c.testAfterLease, e.c.testAfterLoad = nil, nil
		if v := e.cached(t, id); v != "" && !strings.Contains(v, `"title":"`+title+`"`) {
			t.Fatalf("round %d: cache holds %q after the write of %q", i, v, title)
		}
		p, err := e.c.Get(ctx, id)
		if err != nil || p.Title != title {
			t.Fatalf("round %d: Get after the write = %+v, %v; want %q", i, p, err, title)
		}
	}
}

func testCacheInvalidateAfterCommit(t *testing.T, e *cacheEnv) {
	ctx := context.Background()
	if _, err := e.c.Get(ctx, 3); err != nil {
		t.Fatal(err)
	}
	err := e.db.InTx(ctx, e.db.ShardOfInt64(3), func(tx *runtime.Tx) error {
		if _, err := tx.Exec(ctx, e.update, int64(3), "new"); err != nil {
			return err
		}
		e.c.InvalidateAfter(tx, 3)
		if e.cached(t, 3) == "" {
			t.Error("invalidated before the commit")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.cached(t, 3) != "" {
		t.Fatal("not invalidated after the commit")
	}
	if p, err := e.c.Get(ctx, 3); err != nil || p.Title != "new" {
		t.Fatalf("Get after commit %+v %v", p, err)
	}
	// A rolled-back write leaves the cache alone.
	boom := errors.New("boom")
	err = e.db.InTx(ctx, e.db.ShardOfInt64(3), func(tx *runtime.Tx) error {
		e.c.InvalidateAfter(tx, 3)
		return boom
	})
	if !errors.Is(err, boom) || e.cached(t, 3) == "" {
		t.Fatalf("rollback: %v, cached %q", err, e.cached(t, 3))
	}
}

func testCacheStampede(t *testing.T, e *cacheEnv) {
	ctx := context.Background()
	release := make(chan struct{})
	e.c.testAfterLease = func([]int64) { <-release }
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if p, err := e.c.Get(ctx, 9); err != nil || p.Title != "post 9" {
				t.Errorf("Get %+v %v", p, err)
			}
		})
	}
	// Every Get either joins the one load in flight or, once it is done,
	// hits the value it filled.
	for {
		e.c.mu.Lock()
		n := len(e.c.flights)
		e.c.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if n := e.loads.Load(); n != 1 {
		t.Fatalf("32 concurrent misses of one key loaded it %d times", n)
	}
}

func testCacheRedisDownFallsBack(t *testing.T, e *cacheEnv) {
	ctx := context.Background()
	ids := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if _, err := e.c.GetMany(ctx, ids); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		for _, id := range ids {
			p, err := e.c.Get(ctx, id)
			if err != nil || p.Title != fmt.Sprintf("post %d", id) {
				t.Fatalf("%s: Get(%d) = %+v, %v", what, id, p, err)
			}
		}
		m, err := e.c.GetMany(ctx, ids)
		if err != nil || len(m) != len(ids) {
			t.Fatalf("%s: GetMany: %d rows, %v", what, len(m), err)
		}
	}
	// Stopped: connections refused.
	if err := e.redis[1].Stop(); err != nil {
		t.Fatal(err)
	}
	loads := e.loads.Load()
	check("redis r2 stopped")
	if e.loads.Load() == loads {
		t.Fatal("no database read while r2 was down")
	}
	// An invalidation that cannot reach r2 says so (and is retried).
	var r2id int64
	for _, id := range ids {
		if e.db.ShardOfInt64(id) >= 4 {
			r2id = id
			break
		}
	}
	if err := e.c.Invalidate(ctx, r2id); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("invalidate on a stopped server: %v", err)
	}
	if err := e.redis[1].Start(); err != nil {
		t.Fatal(err)
	}
	check("redis r2 restarted")
	// Frozen (SIGSTOP): calls time out after IOTimeout and fall back.
	if err := e.redis[0].Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	check("redis r1 frozen")
	if err := e.redis[0].Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	check("redis r1 thawed")
}
