package bench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shardgen/shardgen/bench/benchdb"
	"github.com/shardgen/shardgen/bench/handpgx"
	"github.com/shardgen/shardgen/bench/workload"
)

// BenchmarkInsertMany stores 1,000 new rows of random users (so on every
// shard of both servers) three ways in the same run: generated InsertMany
// (one multi-row INSERT ... RETURNING per shard, one pipelined round trip
// per server), 1,000 generated Insert calls, and COPY as handpgx writes it
// (IDs minted first by one SELECT per shard in one batch per server, then
// one COPY per shard), the alternative InsertMany was measured against.
// Each iteration stores all 1,000.
func BenchmarkInsertMany(b *testing.B) {
	size := workload.FullSize
	if testing.Short() {
		size = workload.SmokeSize
	}
	env := workload.Setup(b, size, false)
	ctx := context.Background()
	const n = 1000
	for _, g := range env.Groups() {
		b.Run(fmt.Sprintf("shards=%d", g.Shards), func(b *testing.B) {
			small := g == env.Small
			now := time.Now().UTC().Truncate(time.Microsecond)
			user := func(i, j int) int64 { return g.Users[(i*n+j*7919)%len(g.Users)] }
			many := func(i int) error {
				if small {
					rows := make([]*benchdb.SmallItem, n)
					for j := range rows {
						rows[j] = &benchdb.SmallItem{UserID: user(i, j), Title: "batch", Body: "row of a batch", Created: now}
					}
					return env.DB.SmallItems.InsertMany(ctx, rows)
				}
				rows := make([]*benchdb.LargeItem, n)
				for j := range rows {
					rows[j] = &benchdb.LargeItem{UserID: user(i, j), Title: "batch", Body: "row of a batch", Created: now}
				}
				return env.DB.LargeItems.InsertMany(ctx, rows)
			}
			inserts := func(i int) error {
				for j := range n {
					var err error
					if small {
						_, err = env.DB.SmallItems.Insert(ctx, &benchdb.SmallItem{UserID: user(i, j), Title: "batch", Body: "row of a batch", Created: now})
					} else {
						_, err = env.DB.LargeItems.Insert(ctx, &benchdb.LargeItem{UserID: user(i, j), Title: "batch", Body: "row of a batch", Created: now})
					}
					if err != nil {
						return err
					}
				}
				return nil
			}
			copyRows := func(i int) error {
				rows := make([]*handpgx.Item, n)
				for j := range rows {
					rows[j] = &handpgx.Item{UserID: user(i, j), Title: "batch", Body: "row of a batch", Created: now}
				}
				return g.Hand.InsertManyCopy(ctx, g.Name, rows)
			}
			for _, v := range []struct {
				name string
				f    func(int) error
			}{{"generated-InsertMany1000", many}, {"generated-1000Inserts", inserts}, {"handpgx-copy1000", copyRows}} {
				b.Run(v.name, func(b *testing.B) {
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						if err := v.f(i); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
