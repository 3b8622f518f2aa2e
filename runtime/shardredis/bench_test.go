package shardredis

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shardgen/shardgen/runtime/pgtest"
	"github.com/shardgen/shardgen/runtime/redistest"
)

// writers is the number of concurrent writers of the hot-row benchmarks.
const writers = 32

func parallelWriters(b *testing.B) { b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0))) }

// BenchmarkHotRow: 32 writers increment one row. "buffered" goes through
// Counters (HINCRBY) while a flusher runs every 100 ms; "direct" runs
// UPDATE ... SET views = views + 1 on the row. Metrics: updates/row/flush
// is the number of SQL row updates of the hot row per flush that had data
// (the bar: exactly 1); the final value is checked against the increments.
// The PostgreSQL servers are pgtest's (fsync and synchronous_commit off),
// which flatters the direct UPDATE.
func BenchmarkHotRow(b *testing.B) {
	e := newCounterEnv(b, redistest.AOFAlways)
	ctx := context.Background()
	const hot = int64(1)
	shard := e.db.ShardOfInt64(hot)

	b.Run("buffered", func(b *testing.B) {
		e.flushAll(b)
		before, _ := e.stored(b)
		var flushes, rows atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				st, err := e.c.Flush(ctx)
				if err != nil {
					b.Error(err)
				}
				if st.Statements > 0 {
					flushes.Add(int64(st.Statements))
					rows.Add(int64(st.Rows))
				}
			}
		})
		var n atomic.Int64
		parallelWriters(b)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := e.c.Add(ctx, shard, "posts", "views", hot, 1); err != nil {
					b.Error(err)
					return
				}
				n.Add(1)
			}
		})
		b.StopTimer()
		close(stop)
		wg.Wait()
		st, err := e.c.Flush(ctx)
		if err != nil {
			b.Fatal(err)
		}
		flushes.Add(int64(st.Statements))
		rows.Add(int64(st.Rows))
		after, _ := e.stored(b)
		if got := after[hot] - before[hot]; got != n.Load() {
			b.Fatalf("hot row grew by %d, want %d", got, n.Load())
		}
		if flushes.Load() > 0 {
			b.ReportMetric(float64(rows.Load())/float64(flushes.Load()), "updates/row/flush")
		}
	})
	b.Run("direct", func(b *testing.B) {
		upd := e.db.Prepare(`UPDATE @schema@.posts SET views = views + 1 WHERE id = $1`)
		tg := e.db.At(shard)
		parallelWriters(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := tg.Exec(ctx, upd, hot); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkHotRowDurable: the direct UPDATE of BenchmarkHotRow on a
// PostgreSQL server with its defaults (fsync and synchronous_commit on), as
// production runs it: each increment's commit waits for its WAL flush while
// it holds the row lock. Compare it with BenchmarkHotRow/buffered, whose
// increments are durable in Redis (appendfsync always).
func BenchmarkHotRowDurable(b *testing.B) {
	srv := pgtest.NewWith(b, 1, pgtest.Options{Settings: map[string]string{"fsync": "on", "synchronous_commit": "on"}})
	ctx := context.Background()
	if err := srv[0].CreateDatabase(ctx, "durable"); err != nil {
		b.Fatal(err)
	}
	pcfg, err := pgxpool.ParseConfig(srv[0].URL("durable"))
	if err != nil {
		b.Fatal(err)
	}
	pcfg.MaxConns = 8 // the runtime's default pool, as BenchmarkHotRow/direct has
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE posts (id bigint PRIMARY KEY, views bigint NOT NULL DEFAULT 0); INSERT INTO posts (id) VALUES (1)`); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	parallelWriters(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := pool.Exec(ctx, `UPDATE posts SET views = views + 1 WHERE id = $1`, int64(1)); err != nil {
				b.Error(err)
				return
			}
			n.Add(1)
		}
	})
	b.StopTimer()
	var views int64
	if err := pool.QueryRow(ctx, `SELECT views FROM posts WHERE id = 1`).Scan(&views); err != nil || views != n.Load() {
		b.Fatalf("views %d, want %d (%v)", views, n.Load(), err)
	}
}

// BenchmarkGet: one caller reading one post, from the cache (a hit) and
// from the database (the same SELECT the cache's Load runs, on one shard).
// BenchmarkGetMany100 reads 100 cached posts; mget/op/server is the number
// of MGETs each Redis server received per call (the bar: 1).
func BenchmarkGet(b *testing.B) {
	e := newCacheEnv(b, time.Second)
	ctx := context.Background()
	if _, err := e.c.Get(ctx, 7); err != nil {
		b.Fatal(err)
	}
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.c.Get(ctx, 7); err != nil {
				b.Fatal(err)
			}
		}
	})
	sel := e.db.Prepare(`SELECT id, title FROM @schema@.posts WHERE id = $1`)
	tg := e.db.At(e.db.ShardOfInt64(7))
	b.Run("database", func(b *testing.B) {
		for b.Loop() {
			var p post
			if err := tg.QueryRow(ctx, sel, int64(7)).Scan(&p.ID, &p.Title); err != nil {
				b.Fatal(err)
			}
		}
	})
	ids := make([]int64, 100)
	for i := range ids {
		ids[i] = int64(1 + i)
	}
	if _, err := e.c.GetMany(ctx, ids); err != nil {
		b.Fatal(err)
	}
	b.Run("GetMany100-cached", func(b *testing.B) {
		before := []int{mgetCalls(b, e.redis[0]), mgetCalls(b, e.redis[1])}
		loads := e.loads.Load()
		for b.Loop() {
			m, err := e.c.GetMany(ctx, ids)
			if err != nil || len(m) != 100 {
				b.Fatalf("%d rows, %v", len(m), err)
			}
		}
		if e.loads.Load() != loads {
			b.Fatalf("GetMany of hits read the database %d times", e.loads.Load()-loads)
		}
		for i, r := range e.redis {
			b.ReportMetric(float64(mgetCalls(b, r)-before[i])/float64(b.N), "mget/op/"+r.Name())
		}
	})
}
