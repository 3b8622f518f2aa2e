package runtime

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// Exec benchmarks: the runtime's single-shard operations against plain
// pgxpool with the same schema-qualified SQL (the hand-written floor), in
// the same run, at 16 and 4,096 logical shards on one server, for each pgx
// exec mode. Run:
//
//	go test ./runtime -run '^$' -bench 'Exec' -benchtime 3000x -count 5
//
// Keys are spread uniformly over the shards, so at 4,096 shards one
// connection sees 4,096 distinct texts of the same statement: more than
// pgx's 512-entry per-connection caches hold.
//
// Measured 2026-11-22 on the shared 2-vCPU dev VM, PostgreSQL 15, pgx
// v5.12.0 (medians of 5 paired runs of 4,000 ops; a/b = time ratio):
//
//	16 shards    runtime(auto) / pgx cache_statement, same conn: get 0.99-1.02, update 1.00-1.03
//	             pgx exec / pgx cache_statement:                 get 1.34-1.43, update 1.29-1.36
//	4,096 shards runtime(auto) / pgx exec, same conn:             get 0.99-1.03, update 1.02
//	             runtime(auto) / pgx with default settings:       get 0.58-0.60, update 0.56-0.57
//	allocs/op    runtime(auto) get 6 / update 3 at 16 shards (pgx 7 / 3),
//	             8 / 4 at 4,096 (pgx exec 8 / 4; pgx default 23 / 17)

const benchRowsPerShard = 8

type execBench struct {
	url    string
	shards int
	keys   []int64 // existing keys, random order
}

func setupExecBench(b *testing.B, shards int) *execBench {
	b.Helper()
	_, urls := pgtest.NewDatabase(b, 1, "bench")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, urls[0])
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var ddl strings.Builder
	for s := range shards {
		sch := QuoteIdent(SchemaName("blog", Shard(s)))
		fmt.Fprintf(&ddl, "CREATE SCHEMA %s; CREATE TABLE %s.kv (k bigint PRIMARY KEY, shard int NOT NULL, v text NOT NULL);\n", sch, sch)
		if s%256 == 255 || s == shards-1 {
			if _, err := conn.Exec(ctx, ddl.String()); err != nil {
				b.Fatal(err)
			}
			ddl.Reset()
		}
	}
	// Keys whose hash lands on each shard.
	eb := &execBench{url: urls[0], shards: shards}
	perShard := make([]int, shards)
	batch := &pgx.Batch{}
	for k := int64(1); len(eb.keys) < shards*benchRowsPerShard; k++ {
		s := ShardForInt64(k, shards)
		if perShard[s] == benchRowsPerShard {
			continue
		}
		perShard[s]++
		eb.keys = append(eb.keys, k)
		batch.Queue(fmt.Sprintf("INSERT INTO %s.kv VALUES ($1, $2, $3)", QuoteIdent(SchemaName("blog", s))), k, int(s), "value-"+fmt.Sprint(k))
	}
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		b.Fatal(err)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(eb.keys), func(i, j int) { eb.keys[i], eb.keys[j] = eb.keys[j], eb.keys[i] })
	return eb
}

func (eb *execBench) router(b *testing.B, mode pgx.QueryExecMode, maxConns int32) *Group {
	cfg := Config{
		Groups: map[string][]ServerConfig{"blog": {{Name: "a", URL: eb.url, Shards: fmt.Sprintf("0-%d", eb.shards-1)}}},
		Pool:   PoolConfig{MaxConns: maxConns, QueryExecMode: mode},
	}
	r, err := Open(context.Background(), cfg, Spec{Groups: []GroupSpec{{Name: "blog", Shards: eb.shards}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Close)
	g, _ := r.Group("blog")
	return g
}

func (eb *execBench) rawPool(b *testing.B, mode pgx.QueryExecMode) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig(eb.url)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.DefaultQueryExecMode = mode
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p
}

// renderAll is what a careful hand-written data layer keeps: the statement
// text for every schema, built once.
func renderAll(sql string, shards int) []string {
	out := make([]string, shards)
	for s := range shards {
		out[s] = renderSQL(sql, "blog", Shard(s))
	}
	return out
}

const (
	benchGet    = "SELECT k, shard, v FROM @schema@.kv WHERE k = $1"
	benchUpdate = "UPDATE @schema@.kv SET v = $2 WHERE k = $1"
)

// benchVariant is one way of running the two benchmark operations.
type benchVariant struct {
	name     string
	get, upd func(key int64) error
}

// variants builds the hand-written floor (plain pgxpool, pre-rendered
// schema-qualified SQL) with pgx's default mode and with exec mode, and the
// runtime in its default (auto) and forced modes.
func (eb *execBench) variants(b *testing.B) []benchVariant {
	ctx := context.Background()
	gets := renderAll(benchGet, eb.shards)
	updates := renderAll(benchUpdate, eb.shards)
	var out []benchVariant
	for _, v := range []struct {
		name string
		raw  bool
		mode pgx.QueryExecMode
	}{
		{"pgx-default", true, pgx.QueryExecModeCacheStatement},
		{"pgx-exec", true, pgx.QueryExecModeExec},
		{"runtime-auto", false, 0},
		{"runtime-exec", false, pgx.QueryExecModeExec},
		{"runtime-cache_statement", false, pgx.QueryExecModeCacheStatement},
	} {
		var k, sh int64
		var val string
		bv := benchVariant{name: v.name}
		if v.raw {
			pool := eb.rawPool(b, v.mode)
			shards := eb.shards
			bv.get = func(key int64) error {
				return pool.QueryRow(ctx, gets[ShardForInt64(key, shards)], key).Scan(&k, &sh, &val)
			}
			bv.upd = func(key int64) error {
				_, err := pool.Exec(ctx, updates[ShardForInt64(key, shards)], key, "u")
				return err
			}
		} else {
			g := eb.router(b, v.mode, 4)
			gq, uq := g.Prepare(benchGet), g.Prepare(benchUpdate)
			bv.get = func(key int64) error {
				return g.At(g.ShardOfInt64(key)).QueryRow(ctx, gq, key).Scan(&k, &sh, &val)
			}
			bv.upd = func(key int64) error {
				_, err := g.At(g.ShardOfInt64(key)).Exec(ctx, uq, key, "u")
				return err
			}
		}
		out = append(out, bv)
	}
	return out
}

// BenchmarkExec reports each variant on its own (ns/op, allocs/op).
func BenchmarkExec(b *testing.B) {
	for _, shards := range []int{16, 4096} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			eb := setupExecBench(b, shards)
			for _, v := range eb.variants(b) {
				eb.run(b, "get/"+v.name, v.get)
				eb.run(b, "update/"+v.name, v.upd)
			}
		})
	}
}

// BenchmarkExecPaired measures the runtime's overhead over plain pgx. It
// runs two variants alternately in one loop, on the same keys and, where
// possible, on the same pgxpool (the router's own), and reports their
// ratio (a/b). On this 2-vCPU VM latency depends on which core a backend
// process lands on, so separate pools or separate benchmarks differ by up
// to 2x from run to run; sharing connections cancels that out.
//
// Variants: "runtime" is the router in its default auto mode; "pgx-cache"
// and "pgx-exec" call the router's pgxpool directly with the pre-rendered
// text and that exec mode; "pgx-default-pool" is a separate pgxpool with
// pgx's defaults (what naive hand-written code does), used only where
// sharing would let its statement-cache churn leak into the other variant.
func BenchmarkExecPaired(b *testing.B) {
	ctx := context.Background()
	for _, shards := range []int{16, 4096} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			eb := setupExecBench(b, shards)
			// One connection: both variants of a pair run on the same backend.
			g := eb.router(b, 0, 1)
			pool := g.ServerOf(0).pool.pool
			own := eb.rawPool(b, pgx.QueryExecModeCacheStatement)
			gq, uq := g.Prepare(benchGet), g.Prepare(benchUpdate)
			gets, updates := renderAll(benchGet, shards), renderAll(benchUpdate, shards)
			var k, sh int64
			var val string
			type ops struct{ get, upd func(int64) error }
			viaPool := func(p *pgxpool.Pool, mode pgx.QueryExecMode) ops {
				return ops{
					get: func(key int64) error {
						return p.QueryRow(ctx, gets[ShardForInt64(key, shards)], mode, key).Scan(&k, &sh, &val)
					},
					upd: func(key int64) error {
						_, err := p.Exec(ctx, updates[ShardForInt64(key, shards)], mode, key, "u")
						return err
					},
				}
			}
			vs := map[string]ops{
				"runtime": {
					get: func(key int64) error { return g.At(g.ShardOfInt64(key)).QueryRow(ctx, gq, key).Scan(&k, &sh, &val) },
					upd: func(key int64) error {
						_, err := g.At(g.ShardOfInt64(key)).Exec(ctx, uq, key, "u")
						return err
					},
				},
				"pgx-cache":        viaPool(pool, pgx.QueryExecModeCacheStatement),
				"pgx-exec":         viaPool(pool, pgx.QueryExecModeExec),
				"pgx-default-pool": viaPool(own, pgx.QueryExecModeCacheStatement),
			}
			// Warm the runtime's texts first so that auto mode has decided.
			for i := 0; i < len(eb.keys); i += benchRowsPerShard {
				if err := vs["runtime"].get(eb.keys[i]); err != nil {
					b.Fatal(err)
				}
			}
			pairs := [][2]string{{"runtime", "pgx-cache"}, {"runtime", "pgx-exec"}, {"pgx-exec", "pgx-cache"}}
			if shards > 512 {
				pairs = [][2]string{{"runtime", "pgx-exec"}, {"runtime", "pgx-default-pool"}}
			}
			for _, pair := range pairs {
				va, vb := vs[pair[0]], vs[pair[1]]
				for _, op := range []string{"get", "update"} {
					fa, fb := va.get, vb.get
					if op == "update" {
						fa, fb = va.upd, vb.upd
					}
					b.Run(op+"/"+pair[0]+"_vs_"+pair[1], func(b *testing.B) {
						for i := 0; i < len(eb.keys); i += benchRowsPerShard {
							if err := errors.Join(fa(eb.keys[i]), fb(eb.keys[i])); err != nil {
								b.Fatal(err)
							}
						}
						var ta, tb time.Duration
						for i := 0; b.Loop(); i++ {
							key := eb.keys[i%len(eb.keys)]
							first, second, d1, d2 := fa, fb, &ta, &tb
							if i%2 == 1 {
								first, second, d1, d2 = fb, fa, &tb, &ta
							}
							t0 := time.Now()
							err1 := first(key)
							t1 := time.Now()
							err2 := second(key)
							*d1 += t1.Sub(t0)
							*d2 += time.Since(t1)
							if err := errors.Join(err1, err2); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(ta.Nanoseconds())/float64(b.N), "a-ns/op")
						b.ReportMetric(float64(tb.Nanoseconds())/float64(b.N), "b-ns/op")
						b.ReportMetric(float64(ta)/float64(tb), "a/b")
					})
				}
			}
		})
	}
}

// run benchmarks op over the keys after one warm-up pass over every shard
// (so lazily rendered texts, connections and caches are as warm as they
// can get).
func (eb *execBench) run(b *testing.B, name string, op func(key int64) error) {
	b.Run(name, func(b *testing.B) {
		for i := 0; i < len(eb.keys); i += benchRowsPerShard {
			if err := op(eb.keys[i]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := op(eb.keys[i%len(eb.keys)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
