package runtime

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// BenchmarkFanOutCount counts the rows of every shard of a group of 16 and
// of 4,096 logical shards split over two servers, four ways:
//
//   - pipeline: Group.FanOut (one pipeline per server, a Sync per shard,
//     servers in parallel);
//   - pgxbatch: a pgx.Batch per server, servers in parallel (one implicit
//     transaction per server, so one shard's error fails the rest);
//   - sequential: one round trip per logical shard (Target.QueryRow);
//   - unionall: one UNION ALL statement per server, servers in parallel.
func BenchmarkFanOutCount(b *testing.B) {
	_, urls := pgtest.NewDatabase(b, 2, "fan")
	ctx := context.Background()
	for _, shards := range []int{16, 4096} {
		name := fmt.Sprintf("g%d", shards)
		spec := Spec{Groups: []GroupSpec{{Name: name, Shards: shards}}}
		// One connection per server: every variant then runs on the same,
		// equally warm backend (catalog caches of thousands of tables are
		// per backend and cost more to fill than the counts themselves).
		r := openSplit(b, spec, urls, PoolConfig{MaxConns: 1})
		g, _ := r.Group(name)
		// A few rows per shard: the benchmark measures the fan-out, not
		// counting.
		rows := func(s Shard) int { return int(s%8) + 1 }
		createShardTables(b, g, rows)
		count := g.Prepare("SELECT count(*) FROM @schema@.items")
		var want int64
		for s := range Shard(shards) {
			want += int64(rows(s))
		}

		variants := []struct {
			name string
			run  func() (int64, error)
		}{
			{"pipeline", func() (int64, error) {
				var total int64
				err := g.FanOut(ctx, count, nil, func(_ Shard, rows pgx.Rows) error {
					for rows.Next() {
						var n int64
						if err := rows.Scan(&n); err != nil {
							return err
						}
						total += n
					}
					return rows.Err()
				})
				return total, err
			}},
			{"pgxbatch", func() (int64, error) {
				return perServer(g, func(srv *Server, rng ShardRange) (int64, error) {
					batch := &pgx.Batch{}
					for s := rng.First; s <= rng.Last; s++ {
						batch.Queue(count.Text(s))
					}
					c, err := srv.pool.pool.Acquire(ctx)
					if err != nil {
						return 0, err
					}
					defer c.Release()
					br := c.Conn().SendBatch(ctx, batch)
					defer br.Close()
					var sum int64
					for range batch.Len() {
						var n int64
						if err := br.QueryRow().Scan(&n); err != nil {
							return 0, err
						}
						sum += n
					}
					return sum, nil
				})
			}},
			{"sequential", func() (int64, error) {
				var total int64
				for s := range Shard(shards) {
					var n int64
					if err := g.At(s).QueryRow(ctx, count).Scan(&n); err != nil {
						return 0, err
					}
					total += n
				}
				return total, nil
			}},
			{"unionall", func() (int64, error) {
				return perServer(g, func(srv *Server, rng ShardRange) (int64, error) {
					var sql strings.Builder
					sql.WriteString("SELECT sum(n)::bigint FROM (")
					for s := rng.First; s <= rng.Last; s++ {
						if s > rng.First {
							sql.WriteString(" UNION ALL ")
						}
						sql.WriteString(count.Text(s))
					}
					sql.WriteString(") AS t(n)")
					var sum int64
					err := srv.pool.pool.QueryRow(ctx, sql.String()).Scan(&sum)
					return sum, err
				})
			}},
		}
		for _, v := range variants {
			b.Run(fmt.Sprintf("shards=%d/%s", shards, v.name), func(b *testing.B) {
				// One untimed run warms the backends' caches for this
				// variant's statements.
				if total, err := v.run(); err != nil || total != want {
					b.Fatalf("warm-up: total %d (want %d), %v", total, want, err)
				}
				for b.Loop() {
					if total, err := v.run(); err != nil || total != want {
						b.Fatalf("total %d (want %d), %v", total, want, err)
					}
				}
			})
		}
	}
}

// perServer runs fn for every server of g in parallel and sums the results.
func perServer(g *Group, fn func(*Server, ShardRange) (int64, error)) (int64, error) {
	var (
		mu    sync.Mutex
		total int64
		first error
		wg    sync.WaitGroup
	)
	for _, srv := range g.Servers() {
		wg.Go(func() {
			n, err := fn(srv, g.ShardsOn(srv))
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil && first == nil {
				first = err
			}
		})
	}
	wg.Wait()
	return total, first
}
