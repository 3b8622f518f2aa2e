package bench_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/shardgen/shardgen/bench/workload"
	"github.com/shardgen/shardgen/runtime"
)

// BenchmarkWorkload runs the workload with shardgen's generated
// repositories and the hand-written pgx floor, at 16 and 4,096 logical
// shards. bench/peers runs the same with GORM sharding added; make bench
// runs that one. With -short the data set is small (for checking that the
// benchmarks still work, not for numbers).
func BenchmarkWorkload(b *testing.B) {
	size := workload.FullSize
	if testing.Short() {
		size = workload.SmokeSize
	}
	env := workload.Setup(b, size, false)
	for _, g := range env.Groups() {
		b.Run(fmt.Sprintf("shards=%d", g.Shards), func(b *testing.B) {
			gen, hand := workload.Generated(env, g), workload.HandPGX(g)
			workload.Run(b, g, gen, hand, workload.HandPGXSequential(g))
			b.Run("paired", func(b *testing.B) { workload.RunPaired(b, g, gen, hand) })
		})
	}
}

// TestVariantsAgree runs every operation of both variants on a small data
// set at 16 and (without -short) 4,096 shards and checks that they see the
// same rows: both find every row by its ID alone, count the same totals,
// and each one's writes are visible to the other.
func TestVariantsAgree(t *testing.T) {
	env := workload.Setup(t, workload.SmokeSize, testing.Short())
	ctx := context.Background()
	for _, g := range env.Groups() {
		t.Run(fmt.Sprintf("shards=%d", g.Shards), func(t *testing.T) {
			gen, hand, seq := workload.Generated(env, g), workload.HandPGX(g), workload.HandPGXSequential(g)
			want := int64(len(g.Refs))
			for _, v := range []workload.Ops{gen, hand, seq} {
				n, err := v.CountAllShards(ctx)
				if err != nil || n != want {
					t.Fatalf("%s: count = %d, %v; want %d", v.Name, n, err, want)
				}
			}
			for i, ref := range g.Refs[:50] {
				for _, v := range []workload.Ops{gen, hand} {
					if err := v.GetByID(ctx, ref); err != nil {
						t.Fatalf("%s: get %d: %v", v.Name, ref.ID, err)
					}
					if err := v.UpdateByID(ctx, ref); err != nil {
						t.Fatalf("%s: update %d: %v", v.Name, ref.ID, err)
					}
					if err := v.ListByKey(ctx, g.Users[i%len(g.Users)]); err != nil {
						t.Fatalf("%s: list: %v", v.Name, err)
					}
				}
			}
			// Each variant inserts a row per user and one per
			// transaction; every variant must count them all.
			for _, v := range []workload.Ops{gen, hand} {
				for _, u := range g.Users {
					if err := v.InsertByKey(ctx, u); err != nil {
						t.Fatalf("%s: insert for %d: %v", v.Name, u, err)
					}
				}
				for _, ref := range g.Refs[:10] {
					if err := v.Tx3(ctx, ref); err != nil {
						t.Fatalf("%s: tx: %v", v.Name, err)
					}
				}
			}
			want += int64(2*len(g.Users) + 2*10)
			for _, v := range []workload.Ops{gen, hand, seq} {
				n, err := v.CountAllShards(ctx)
				if err != nil || n != want {
					t.Fatalf("%s: count after inserts = %d, %v; want %d", v.Name, n, err, want)
				}
			}
			// A row is where its ID says: an ID naming a shard beyond the
			// group is not found, by either variant.
			bad := workload.Ref{ID: int64(g.Shards) << runtime.DefaultSeqBits, User: 1}
			if g.Shards < 1<<runtime.DefaultShardBits {
				if err := gen.GetByID(ctx, bad); !errors.Is(err, runtime.ErrNotFound) {
					t.Errorf("generated: get of an ID beyond the group: %v, want ErrNotFound", err)
				}
				if err := hand.GetByID(ctx, bad); err == nil {
					t.Errorf("handpgx: get of an ID beyond the group succeeded")
				}
			}
		})
	}
}
