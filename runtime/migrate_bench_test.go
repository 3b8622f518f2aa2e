package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

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
		b.Run(fmt.Sprintf("shards=%d/change", shards), func(b *testing.B) {
			// Each iteration adds a column to every shard's (empty) posts
			// table: the preflight runs the change everywhere, rolled
			// back, then applies it. preflight-ms is that first phase.
			if testing.Short() && shards > 16 {
				b.Skip("-short: the 16-shard case keeps it working")
			}
			r := freshRouter(b, spec)
			if err := Migrate(ctx, r, spec, MigrateOptions{}); err != nil {
				b.Fatal(err)
			}
			var pre time.Duration
			logger := slog.New(&preflightTimer{d: &pre})
			var extra []Migration
			for i := 0; i < b.N; i++ {
				extra = append(extra, Migration{Version: 2 + i, Name: fmt.Sprintf("c%d", i), SQL: fmt.Sprintf("ALTER TABLE @schema@.posts ADD COLUMN c%d text NOT NULL DEFAULT ''", i)})
				if err := Migrate(ctx, r, blogSpec(shards, extra...), MigrateOptions{Logger: logger}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(pre.Milliseconds())/float64(b.N), "preflight-ms/op")
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

// preflightTimer adds up the elapsed time of Migrate's "preflight done" log
// lines.
type preflightTimer struct{ d *time.Duration }

func (h *preflightTimer) Enabled(context.Context, slog.Level) bool { return true }
func (h *preflightTimer) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *preflightTimer) WithGroup(string) slog.Handler            { return h }
func (h *preflightTimer) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "shardgen migrate: preflight done" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "elapsed" {
				*h.d += a.Value.Duration()
			}
			return true
		})
	}
	return nil
}
