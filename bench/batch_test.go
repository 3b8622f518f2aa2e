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

// BenchmarkUpsertVersioned compares generated UpsertBySlug and the
// versioned Update of benchdb.SmallDoc (16 shards on two servers) with
// hand-written pgx running the same statements (handpgx.Docs). Each
// variant has rows of its own, one per user; an iteration upserts over
// (or updates) the row of the next user. The paired sub-benchmarks run
// both variants in every iteration, alternating which goes first, and
// report each one's ns/op and their ratio; the others report allocations.
func BenchmarkUpsertVersioned(b *testing.B) {
	env := workload.Setup(b, workload.SmokeSize, true)
	ctx := context.Background()
	g := env.Small
	hand := g.Hand.Docs(g.Name)
	// Rows of the upserts (gen, hd) and, apart, of the updates (genU,
	// hdU), whose in-memory versions the upserts must not make stale.
	rows := func(prefix string) ([]*benchdb.SmallDoc, []*handpgx.Doc) {
		gen := make([]*benchdb.SmallDoc, len(g.Users))
		hd := make([]*handpgx.Doc, len(g.Users))
		for i, u := range g.Users {
			gen[i] = &benchdb.SmallDoc{UserID: u, Slug: fmt.Sprintf("%sgen-%d", prefix, u), Body: "first"}
			if _, err := env.DB.SmallDocs.UpsertBySlug(ctx, gen[i]); err != nil {
				b.Fatal(err)
			}
			hd[i] = &handpgx.Doc{UserID: u, Slug: fmt.Sprintf("%shand-%d", prefix, u), Body: "first"}
			if err := hand.Upsert(ctx, hd[i]); err != nil {
				b.Fatal(err)
			}
		}
		return gen, hd
	}
	gen, hd := rows("")
	genU, hdU := rows("u-")
	ops := []struct {
		name      string
		gen, hand func(i int) error
	}{
		{"UpsertBySlug",
			func(i int) error {
				d := gen[i%len(gen)]
				_, err := env.DB.SmallDocs.UpsertBySlug(ctx, &benchdb.SmallDoc{UserID: d.UserID, Slug: d.Slug, Body: "upserted"})
				return err
			},
			func(i int) error {
				d := hd[i%len(hd)]
				return hand.Upsert(ctx, &handpgx.Doc{UserID: d.UserID, Slug: d.Slug, Body: "upserted"})
			}},
		{"VersionedUpdate",
			func(i int) error { return env.DB.SmallDocs.Update(ctx, genU[i%len(genU)]) },
			func(i int) error { return hand.Update(ctx, hdU[i%len(hdU)]) }},
	}
	for _, op := range ops {
		for _, v := range []struct {
			name string
			f    func(int) error
		}{{"generated", op.gen}, {"handpgx", op.hand}} {
			b.Run(op.name+"/"+v.name, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if err := v.f(i); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(op.name+"/paired", func(b *testing.B) {
			var tg, th time.Duration
			for i := 0; b.Loop(); i++ {
				first, second, d1, d2 := op.gen, op.hand, &tg, &th
				if i%2 == 1 {
					first, second, d1, d2 = op.hand, op.gen, &th, &tg
				}
				t0 := time.Now()
				err1 := first(i)
				t1 := time.Now()
				err2 := second(i)
				*d1 += t1.Sub(t0)
				*d2 += time.Since(t1)
				if err1 != nil || err2 != nil {
					b.Fatal(err1, err2)
				}
			}
			b.ReportMetric(float64(tg.Nanoseconds())/float64(b.N), "generated-ns/op")
			b.ReportMetric(float64(th.Nanoseconds())/float64(b.N), "handpgx-ns/op")
			b.ReportMetric(float64(tg)/float64(th), "generated/handpgx")
		})
	}
}
