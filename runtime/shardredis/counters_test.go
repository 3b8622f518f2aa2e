package shardredis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
	"github.com/shardgen/shardgen/runtime/redistest"
)

// The counter tests run a group "blog" of 16 logical shards on two
// PostgreSQL servers (shards 0-7, 8-15) and two Redis servers split
// differently (0-3, 4-15): the ranges need not match.

const nRows = 10000

var counterSpec = runtime.Spec{Groups: []runtime.GroupSpec{{Name: "blog", Shards: 16, Migrations: []runtime.Migration{{
	Version: 1, Name: "tables", Declarative: true,
	SQL: `CREATE TABLE IF NOT EXISTS @schema@.posts (id bigint PRIMARY KEY, views bigint NOT NULL DEFAULT 0, likes bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS @schema@.tags (name text PRIMARY KEY, uses bigint NOT NULL DEFAULT 0);
` + CounterFlushesDDL,
}}}}}

var counterTables = []CounterTable{
	{Table: "posts", Key: "id", KeyType: Int64Key, Columns: []string{"views", "likes"}},
	{Table: "tags", Key: "name", KeyType: StringKey, Columns: []string{"uses"}},
}

type counterEnv struct {
	router *runtime.Router
	db     *runtime.Group
	rdb    *Redis
	c      *Counters
	pg     []*pgtest.Server
	redis  []*redistest.Server
	pgURLs []string
}

func openCounters(pgURLs, redisURLs []string) (*runtime.Router, *Redis, *Counters, error) {
	ctx := context.Background()
	router, err := runtime.Open(ctx, runtime.Config{Groups: map[string][]runtime.ServerConfig{"blog": {
		{Name: "a", URL: pgURLs[0], Shards: "0-7"}, {Name: "b", URL: pgURLs[1], Shards: "8-15"},
	}}}, counterSpec)
	if err != nil {
		return nil, nil, nil, err
	}
	rdb, err := Open(Config{Groups: map[string][]runtime.ServerConfig{"blog": {
		{Name: "r1", URL: redisURLs[0], Shards: "0-3"}, {Name: "r2", URL: redisURLs[1], Shards: "4-15"},
	}}}, counterSpec)
	if err != nil {
		router.Close()
		return nil, nil, nil, err
	}
	g, _ := router.Group("blog")
	c, err := NewCounters(rdb, g, counterTables...)
	if err != nil {
		router.Close()
		rdb.Close()
		return nil, nil, nil, err
	}
	return router, rdb, c, nil
}

func newCounterEnv(t testing.TB, persistence redistest.Persistence) *counterEnv {
	t.Helper()
	pg, urls := pgtest.NewDatabase(t, 2, "ctr")
	rs := redistest.NewWith(t, 2, redistest.Options{Persistence: persistence})
	router, rdb, c, err := openCounters(urls, []string{rs[0].URL(), rs[1].URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close(); router.Close() })
	ctx := context.Background()
	if err := runtime.Migrate(ctx, router, counterSpec, runtime.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	g, _ := router.Group("blog")
	ins := g.Prepare(`INSERT INTO @schema@.posts (id) SELECT unnest($1::bigint[])`)
	byShard := map[runtime.Shard][]int64{}
	for id := int64(1); id <= nRows; id++ {
		s := g.ShardOfInt64(id)
		byShard[s] = append(byShard[s], id)
	}
	for s, ids := range byShard {
		if _, err := g.At(s).Exec(ctx, ins, ids); err != nil {
			t.Fatal(err)
		}
	}
	tags := g.Prepare(`INSERT INTO @schema@.tags (name) VALUES ($1)`)
	for _, tag := range []string{"go", "redis", "a|b"} {
		if _, err := g.At(g.ShardOfString(tag)).Exec(ctx, tags, tag); err != nil {
			t.Fatal(err)
		}
	}
	return &counterEnv{router: router, db: g, rdb: rdb, c: c, pg: pg, redis: rs, pgURLs: urls}
}

// stored reads every post's views and likes from the database.
func (e *counterEnv) stored(t testing.TB) (views, likes []int64) {
	t.Helper()
	views, likes = make([]int64, nRows+1), make([]int64, nRows+1)
	q := e.db.Prepare(`SELECT id, views, likes FROM @schema@.posts`)
	var mu sync.Mutex
	err := e.db.FanOut(context.Background(), q, nil, func(_ runtime.Shard, rows pgx.Rows) error {
		for rows.Next() {
			var id, v, l int64
			if err := rows.Scan(&id, &v, &l); err != nil {
				return err
			}
			mu.Lock()
			views[id], likes[id] = v, l
			mu.Unlock()
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return views, likes
}

func (e *counterEnv) flushAll(t testing.TB) {
	t.Helper()
	for i := 0; ; i++ {
		st, err := e.c.Flush(context.Background())
		if err != nil {
			t.Fatalf("flush: %v", err)
		}
		if st.Snapshots == 0 {
			return
		}
		if i > 20 {
			t.Fatalf("flush keeps finding snapshots: %+v", st)
		}
	}
}

func TestCountersBasic(t *testing.T) {
	e := newCounterEnv(t, redistest.AOFAlways)
	ctx := context.Background()
	add := func(id int64, col string, d int64) {
		t.Helper()
		if err := e.c.Add(ctx, e.db.ShardOfInt64(id), "posts", col, id, d); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		add(7, "views", 1)
	}
	add(7, "likes", 2)
	add(8, "views", 3)
	add(9, "views", -1)
	if err := e.c.Add(ctx, e.db.ShardOfString("a|b"), "tags", "uses", "a|b", 4); err != nil {
		t.Fatal(err)
	}
	get := func(id int64, col string) int64 {
		t.Helper()
		v, err := e.c.Get(ctx, e.db.ShardOfInt64(id), "posts", col, id)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if get(7, "views") != 5 || get(7, "likes") != 2 || get(8, "views") != 3 || get(9, "views") != -1 {
		t.Fatalf("reads before flush: %d %d %d %d", get(7, "views"), get(7, "likes"), get(8, "views"), get(9, "views"))
	}
	st, err := e.c.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One statement per (shard, table) with data; each row updated once,
	// both of post 7's columns in that one UPDATE.
	shards := map[runtime.Shard]bool{e.db.ShardOfInt64(7): true, e.db.ShardOfInt64(8): true, e.db.ShardOfInt64(9): true}
	if st.Statements != len(shards)+1 || st.Rows != 4 || st.Skipped != 0 {
		t.Fatalf("flush stats %+v; want %d statements, 4 rows", st, len(shards)+1)
	}
	views, likes := e.stored(t)
	if views[7] != 5 || likes[7] != 2 || views[8] != 3 || views[9] != -1 {
		t.Fatalf("stored %d %d %d %d", views[7], likes[7], views[8], views[9])
	}
	if get(7, "views") != 5 {
		t.Fatalf("read after flush %d", get(7, "views"))
	}
	if v, err := e.c.Get(ctx, e.db.ShardOfString("a|b"), "tags", "uses", "a|b"); err != nil || v != 4 {
		t.Fatalf("tag read %d %v", v, err)
	}
	if st, err := e.c.Flush(ctx); err != nil || st != (FlushStats{}) {
		t.Fatalf("second flush %+v %v", st, err)
	}
	// Misuse is reported.
	if err := e.c.Add(ctx, 0, "post", "views", int64(1), 1); err == nil || !strings.Contains(err.Error(), `did you mean "posts"?`) {
		t.Errorf("unknown table: %v", err)
	}
	if err := e.c.Add(ctx, 0, "posts", "views", "x", 1); err == nil {
		t.Error("string key on an int64 table accepted")
	}
	if _, err := e.c.Get(ctx, e.db.ShardOfInt64(nRows+5), "posts", "views", int64(nRows+5)); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("missing row: %v", err)
	}
}

// The flusher child: TestMain runs it when the parent test re-executes the
// test binary with envFlusher set. It flushes once and, at the step named
// by envStopAt, says so on stdout and waits for the parent's SIGKILL.
const (
	envFlusher = "SHARDREDIS_TEST_FLUSHER"
	envStopAt  = "SHARDREDIS_TEST_STOP_AT"
	envPG      = "SHARDREDIS_TEST_PG"
	envRedis   = "SHARDREDIS_TEST_REDIS"
)

func TestMain(m *testing.M) {
	if os.Getenv(envFlusher) != "" {
		os.Exit(flusherChild())
	}
	os.Exit(m.Run())
}

func flusherChild() int {
	router, rdb, c, err := openCounters(strings.Split(os.Getenv(envPG), ","), strings.Split(os.Getenv(envRedis), ","))
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	defer router.Close()
	defer rdb.Close()
	stop := os.Getenv(envStopAt)
	c.step = func(s string) {
		if s == stop {
			fmt.Println("AT", s)
			select {} // until SIGKILL
		}
	}
	st, err := c.Flush(context.Background())
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	fmt.Printf("DONE %+v\n", st)
	return 0
}

// killFlusherAt runs a flusher process and SIGKILLs it when it reaches step.
// It reports whether the step was reached (a flush with fewer statements
// than apply:N finishes instead).
func (e *counterEnv) killFlusherAt(t *testing.T, step string) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envFlusher+"=1", envStopAt+"="+step,
		envPG+"="+strings.Join(e.pgURLs, ","), envRedis+"="+e.redis[0].URL()+","+e.redis[1].URL())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	reached := false
	for sc.Scan() {
		line := sc.Text()
		if line == "AT "+step {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			reached = true
			break
		}
		if strings.HasPrefix(line, "ERR") {
			t.Errorf("flusher child at %s: %s", step, line)
		}
	}
	cmd.Wait()
	return reached
}

func TestCountersExactlyOnceUnderSIGKILL(t *testing.T) {
	e := newCounterEnv(t, redistest.AOFAlways)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	const writers, hot = 64, int64(1)
	var want [nRows + 1]atomic.Int64
	var wantLikes atomic.Int64
	var ops atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			add := func(id int64, col string) bool {
				if err := e.c.Add(ctx, e.db.ShardOfInt64(id), "posts", col, id, 1); err != nil {
					t.Errorf("add: %v", err)
					return false
				}
				if col == "views" {
					want[id].Add(1)
				} else {
					wantLikes.Add(1)
				}
				ops.Add(1)
				return true
			}
			// Every one of the 10,000 rows gets increments...
			for id := int64(1 + w); id <= nRows; id += writers {
				if !add(id, "views") {
					return
				}
			}
			// ...and then, until the flushes are done, the hot row most.
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := hot
				if i%4 == 3 {
					id = 1 + rng.Int64N(nRows)
				}
				col := "views"
				if id == hot && i%8 == 0 {
					col = "likes"
				}
				if !add(id, col) {
					return
				}
			}
		})
	}
	// A flusher of this process runs too, so killed and live flushers
	// meet on the same snapshots.
	var fwg sync.WaitGroup
	fwg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Millisecond):
			}
			if _, err := e.c.Flush(ctx); err != nil {
				t.Errorf("live flush: %v", err)
			}
		}
	})
	steps := []string{"snapshot", "snapshotted", "read", "apply:0", "apply:3", "apply:9", "applied", "deleted"}
	for round := range 2 {
		for _, step := range steps {
			time.Sleep(20 * time.Millisecond) // let increments pile up
			if !e.killFlusherAt(t, step) && step != "apply:9" {
				t.Errorf("round %d: flusher finished without reaching %s", round, step)
			}
		}
	}
	close(stop)
	wg.Wait()
	fwg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d increments by %d writers; flushers killed at %s, twice", ops.Load(), writers, strings.Join(steps, ", "))

	// Reads count exactly, with the dead flushers' snapshots still in Redis.
	rctx := context.Background()
	for _, id := range []int64{hot, 2, nRows / 2, nRows} {
		v, err := e.c.Get(rctx, e.db.ShardOfInt64(id), "posts", "views", id)
		if err != nil || v != want[id].Load() {
			t.Errorf("read of post %d before the final flush = %d, %v; want %d", id, v, err, want[id].Load())
		}
	}
	e.flushAll(t)
	views, likes := e.stored(t)
	bad := 0
	for id := int64(1); id <= nRows; id++ {
		if views[id] != want[id].Load() {
			if bad++; bad <= 10 {
				t.Errorf("post %d: stored views %d, want %d", id, views[id], want[id].Load())
			}
		}
		if want[id].Load() == 0 {
			t.Errorf("post %d got no increment", id)
		}
	}
	if likes[hot] != wantLikes.Load() {
		t.Errorf("hot post likes %d, want %d", likes[hot], wantLikes.Load())
	}
	if bad > 0 {
		t.Fatalf("%d rows differ", bad)
	}
	t.Logf("hot post: %d views, %d likes, exact", views[hot], likes[hot])
	// Nothing is left pending in Redis.
	for _, r := range e.redis {
		keys, err := r.Do("KEYS", "sg:blog:*:c:[psi]*")
		if err != nil || keys != "" {
			t.Errorf("%s still holds %q (%v)", r.Name(), keys, err)
		}
	}
}

// TestCountersRedisRestart kills a Redis server (SIGKILL) in the middle of
// increments and flushes and starts it again, with the persistence the
// Counters documentation requires for losing nothing (appendonly yes,
// appendfsync always).
// What may be lost: only increments whose Add returned an error (they may
// or may not have been counted). Everything acknowledged is in the final
// values, and nothing is applied twice.
func TestCountersRedisRestart(t *testing.T) {
	e := newCounterEnv(t, redistest.AOFAlways)
	ctx := context.Background()
	const writers = 16
	var acked, failed [nRows + 1]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := int64(1)
				if i%2 == 1 {
					id = 1 + rng.Int64N(nRows)
				}
				if err := e.c.Add(ctx, e.db.ShardOfInt64(id), "posts", "views", id, 1); err != nil {
					if !errors.Is(err, ErrUnavailable) {
						t.Errorf("add: %v", err)
						return
					}
					failed[id].Add(1)
					time.Sleep(time.Millisecond)
					continue
				}
				acked[id].Add(1)
			}
		})
	}
	var flushErrs atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := e.c.Flush(ctx); err != nil {
				flushErrs.Add(1)
			}
		}
	})
	time.Sleep(500 * time.Millisecond)
	if err := e.redis[1].Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := e.redis[1].Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	e.flushAll(t)
	views, _ := e.stored(t)
	var nAcked, nFailed, lost, extra int64
	for id := int64(1); id <= nRows; id++ {
		a, f := acked[id].Load(), failed[id].Load()
		nAcked += a
		nFailed += f
		if views[id] < a {
			lost += a - views[id]
			t.Errorf("post %d: %d views stored, %d increments acknowledged", id, views[id], a)
		}
		if views[id] > a+f {
			extra += views[id] - a - f
			t.Errorf("post %d: %d views stored, more than %d acknowledged + %d failed", id, views[id], a, f)
		}
	}
	if nFailed == 0 {
		t.Error("no Add failed while a Redis server was down: the test did not test a restart")
	}
	t.Logf("%d increments acknowledged, %d failed while redis r2 was down, %d flushes failed; acknowledged lost: %d, applied twice: %d",
		nAcked, nFailed, flushErrs.Load(), lost, extra)
}
