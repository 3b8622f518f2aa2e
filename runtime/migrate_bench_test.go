package runtime

import (
	"context"
	"fmt"
	"testing"

	"github.com/shardgen/shardgen/runtime/pgtest"
)

// BenchmarkMigrate migrates the blog application (the ID function, a table
// and an index per shard, a table on the default database) to 16 and to
// 4,096 logical shards on two servers: "fresh" into new databases each
// iteration, "noop" a second run that finds everything applied.
func BenchmarkMigrate(b *testing.B) {
	servers := pgtest.New(b, 2)
	ctx := context.Background()
	db := 0
	freshRouter := func(b *testing.B, spec Spec) *Router {
		db++
		name := fmt.Sprintf("mig%d", db)
		urls := make([]string, len(servers))
		for i, s := range servers {
			if err := s.CreateDatabase(ctx, name); err != nil {
				b.Fatal(err)
			}
			urls[i] = s.URL(name)
		}
		return openBlog(b, spec, urls)
	}
	for _, shards := range []int{16, 4096} {
		spec := blogSpec(shards)
		b.Run(fmt.Sprintf("shards=%d/fresh", shards), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				r := freshRouter(b, spec)
				b.StartTimer()
				if err := Migrate(ctx, r, spec, MigrateOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*(shards+1))/b.Elapsed().Seconds(), "schemas/s")
		})
		b.Run(fmt.Sprintf("shards=%d/noop", shards), func(b *testing.B) {
			r := freshRouter(b, spec)
			if err := Migrate(ctx, r, spec, MigrateOptions{}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := Migrate(ctx, r, spec, MigrateOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
