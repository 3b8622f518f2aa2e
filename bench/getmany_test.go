package bench_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shardgen/shardgen/bench/benchdb"
	"github.com/shardgen/shardgen/bench/workload"
)

// BenchmarkGetMany reads 100 rows by ID (random rows of random users, so
// on many shards of both servers) three ways: generated GetMany (one
// pipelined round trip per server), 100 generated Get calls, and the
// hand-written pgx.Batch per server of handpgx.Store.GetMany. Each
// iteration reads all 100.
func BenchmarkGetMany(b *testing.B) {
	size := workload.FullSize
	if testing.Short() {
		size = workload.SmokeSize
	}
	env := workload.Setup(b, size, false)
	ctx := context.Background()
	const n = 100
	for _, g := range env.Groups() {
		b.Run(fmt.Sprintf("shards=%d", g.Shards), func(b *testing.B) {
			sets := make([][]int64, 64)
			for i := range sets {
				for j := range n {
					sets[i] = append(sets[i], g.Refs[(i*n+j*7919)%len(g.Refs)].ID)
				}
			}
			small := g == env.Small
			getMany := func(ids []int64) error {
				var got int
				if small {
					typed := make([]benchdb.SmallItemID, len(ids))
					for i, id := range ids {
						typed[i] = benchdb.SmallItemID(id)
					}
					rows, err := env.DB.SmallItems.GetMany(ctx, typed)
					if err != nil {
						return err
					}
					for _, r := range rows {
						if r != nil {
							got++
						}
					}
				} else {
					typed := make([]benchdb.LargeItemID, len(ids))
					for i, id := range ids {
						typed[i] = benchdb.LargeItemID(id)
					}
					rows, err := env.DB.LargeItems.GetMany(ctx, typed)
					if err != nil {
						return err
					}
					for _, r := range rows {
						if r != nil {
							got++
						}
					}
				}
				return want(got, len(ids))
			}
			gets := func(ids []int64) error {
				for _, id := range ids {
					var err error
					if small {
						_, err = env.DB.SmallItems.Get(ctx, benchdb.SmallItemID(id))
					} else {
						_, err = env.DB.LargeItems.Get(ctx, benchdb.LargeItemID(id))
					}
					if err != nil {
						return err
					}
				}
				return nil
			}
			hand := func(ids []int64) error {
				rows, err := g.Hand.GetMany(ctx, ids)
				if err != nil {
					return err
				}
				got := 0
				for _, r := range rows {
					if r != nil {
						got++
					}
				}
				return want(got, len(ids))
			}
			for _, v := range []struct {
				name string
				f    func([]int64) error
			}{{"generated-GetMany100", getMany}, {"generated-100Gets", gets}, {"handpgx-batch100", hand}} {
				b.Run(v.name, func(b *testing.B) {
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						if err := v.f(sets[i%len(sets)]); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

func want(got, n int) error {
	if got != n {
		return fmt.Errorf("found %d of %d rows", got, n)
	}
	return nil
}
