package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

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

func (eb *execBench) router(b *testing.B, mode pgx.QueryExecMode) *Group {
	cfg := Config{
		Groups: map[string][]ServerConfig{"blog": {{Name: "a", URL: eb.url, Shards: fmt.Sprintf("0-%d", eb.shards-1)}}},
		Pool:   PoolConfig{MaxConns: 4, QueryExecMode: mode},
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
		out[s] = RenderSQL(sql, "blog", Shard(s))
	}
	return out
}

const (
	benchGet    = "SELECT k, shard, v FROM @schema@.kv WHERE k = $1"
	benchUpdate = "UPDATE @schema@.kv SET v = $2 WHERE k = $1"
)

func BenchmarkExec(b *testing.B) {
	for _, shards := range []int{16, 4096} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			eb := setupExecBench(b, shards)
			ctx := context.Background()
			gets := renderAll(benchGet, shards)
			updates := renderAll(benchUpdate, shards)
			// The hand-written floor with pgx's default mode and with exec
			// mode, then the runtime in its default (auto) and forced modes.
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
				var get, upd func(key int64) error
				if v.raw {
					pool := eb.rawPool(b, v.mode)
					get = func(key int64) error {
						return pool.QueryRow(ctx, gets[ShardForInt64(key, shards)], key).Scan(&k, &sh, &val)
					}
					upd = func(key int64) error {
						_, err := pool.Exec(ctx, updates[ShardForInt64(key, shards)], key, "u")
						return err
					}
				} else {
					g := eb.router(b, v.mode)
					gq, uq := g.Prepare(benchGet), g.Prepare(benchUpdate)
					get = func(key int64) error {
						return g.At(g.ShardOfInt64(key)).QueryRow(ctx, gq, key).Scan(&k, &sh, &val)
					}
					upd = func(key int64) error {
						_, err := g.At(g.ShardOfInt64(key)).Exec(ctx, uq, key, "u")
						return err
					}
				}
				eb.run(b, "get/"+v.name, get)
				eb.run(b, "update/"+v.name, upd)
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
