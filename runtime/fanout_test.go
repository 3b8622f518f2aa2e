package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// splitConfig spreads the shards of one group evenly over the given server
// URLs by contiguous ranges, servers named s0, s1, ...
func splitConfig(group string, shards int, urls []string, pool PoolConfig) Config {
	per := shards / len(urls)
	servers := make([]ServerConfig, len(urls))
	for i, u := range urls {
		last := (i+1)*per - 1
		if i == len(urls)-1 {
			last = shards - 1
		}
		servers[i] = ServerConfig{Name: fmt.Sprintf("s%d", i), URL: u, Shards: fmt.Sprintf("%d-%d", i*per, last)}
	}
	return Config{Groups: map[string][]ServerConfig{group: servers}, Pool: pool}
}

// openSplit opens a router over one group split across urls.
func openSplit(tb testing.TB, spec Spec, urls []string, pool PoolConfig) *Router {
	tb.Helper()
	g := spec.Groups[0]
	r, err := Open(context.Background(), splitConfig(g.Name, g.Shards, urls, pool), spec)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Close)
	return r
}

// createShardTables creates, directly and without Migrate, schema
// <group>_<nnnn> with a table items holding rows(shard) rows for every
// shard of g.
func createShardTables(tb testing.TB, g *Group, rows func(Shard) int) {
	tb.Helper()
	ctx := context.Background()
	for _, srv := range g.Servers() {
		rng := g.ShardsOn(srv)
		var b strings.Builder
		for s := rng.First; s <= rng.Last; s++ {
			q := QuoteIdent(g.Schema(s))
			fmt.Fprintf(&b, "CREATE SCHEMA %s; CREATE TABLE %s.items (id bigint PRIMARY KEY); INSERT INTO %s.items SELECT generate_series(1, %d);\n", q, q, q, rows(s))
		}
		conn, err := srv.pool.pool.Acquire(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		_, err = conn.Conn().PgConn().Exec(ctx, b.String()).ReadAll()
		conn.Release()
		if err != nil {
			tb.Fatalf("create shard tables on %s: %v", srv, err)
		}
	}
}

// distinctCounts gives shard s s+1 rows, so a result delivered for the
// wrong shard shows.
func distinctCounts(s Shard) int { return int(s) + 1 }

// countAll fans out a count and returns the per-shard counts it saw.
func countAll(ctx context.Context, g *Group, q *Query) (map[Shard]int64, error) {
	got := map[Shard]int64{}
	err := g.FanOut(ctx, q, []any{int64(0)}, func(s Shard, rows pgx.Rows) error {
		if _, dup := got[s]; dup {
			return fmt.Errorf("shard %d delivered twice", s)
		}
		for rows.Next() {
			var n int64
			if err := rows.Scan(&n); err != nil {
				return err
			}
			got[s] = n
		}
		return rows.Err()
	})
	return got, err
}

func failedShards(err error) []Shard {
	var fe *FanOutError
	if !errors.As(err, &fe) {
		return nil
	}
	out := make([]Shard, len(fe.Failed))
	for i, f := range fe.Failed {
		out[i] = f.Shard
	}
	return out
}

// TestFanOutTwoServers runs the fan-out over 16 shards on two servers in
// both statement modes: prepared statements (exec mode "auto" while the
// texts fit the cache) and unnamed statements (QueryExecModeExec, what
// large deployments use).
func TestFanOutTwoServers(t *testing.T) {
	_, urls := pgtest.NewDatabase(t, 2, "fan")
	const shards = 16
	spec := Spec{Groups: []GroupSpec{{Name: "blog", Shards: shards}}}
	for i, mode := range []pgx.QueryExecMode{0, pgx.QueryExecModeExec} {
		name := map[pgx.QueryExecMode]string{0: "auto", pgx.QueryExecModeExec: "exec"}[mode]
		t.Run(name, func(t *testing.T) {
			r := openSplit(t, spec, urls, PoolConfig{MaxConns: 2, AcquireTimeout: 2 * time.Second, QueryExecMode: mode})
			g, err := r.Group("blog")
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				createShardTables(t, g, distinctCounts)
			}
			testFanOutTwoServers(t, g, urls, spec)
			// The fan-out chose prepared statements exactly in auto mode.
			for _, srv := range g.Servers() {
				sp := srv.pool
				if prepared := sp.auto && sp.texts.Load() <= sp.cacheCap; prepared != (mode == 0) {
					t.Errorf("server %s: prepared statements %v in mode %s", srv, prepared, name)
				}
			}
		})
	}
}

func testFanOutTwoServers(t *testing.T, g *Group, urls []string, spec Spec) {
	const shards = 16
	ctx := context.Background()
	q := g.Prepare("SELECT count(*) FROM @schema@.items WHERE id > $1")

	got, err := countAll(ctx, g, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != shards {
		t.Fatalf("got results from %d shards, want %d", len(got), shards)
	}
	for s := range Shard(shards) {
		if got[s] != int64(s)+1 {
			t.Errorf("shard %d: count %d, want %d (a result delivered for the wrong shard?)", s, got[s], s+1)
		}
	}

	t.Run("failing shards do not take their neighbours down", func(t *testing.T) {
		// Shards 5 and 6 (server s0) lose their table. PostgreSQL skips
		// the rest of a pipelined group after an error, so this checks
		// that shard 7, sent after them, is retried and still counted.
		drop := g.Prepare("DROP TABLE @schema@.items")
		for _, s := range []Shard{5, 6} {
			if _, err := g.At(s).Exec(ctx, drop); err != nil {
				t.Fatal(err)
			}
		}
		got, err := countAll(ctx, g, q)
		if f := failedShards(err); !slices.Equal(f, []Shard{5, 6}) {
			t.Fatalf("failed shards %v (err %v), want [5 6]", f, err)
		}
		var fe *FanOutError
		errors.As(err, &fe)
		if fe.Group != "blog" || fe.Failed[0].Server != "s0" || !strings.Contains(err.Error(), "blog_0005") {
			t.Errorf("error does not name group/shard/server: %v", err)
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
			t.Errorf("cause %v, want undefined_table", err)
		}
		if len(got) != shards-2 || got[7] != 8 || got[4] != 5 || got[15] != 16 {
			t.Errorf("other shards' results: %v", got)
		}
		recreate := g.Prepare("CREATE TABLE @schema@.items (id bigint PRIMARY KEY); INSERT INTO @schema@.items SELECT generate_series(1, @shard@ + 1)")
		for _, s := range []Shard{5, 6} {
			conn, err := g.ServerOf(s).pool.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = conn.Conn().PgConn().Exec(ctx, recreate.Text(s)).ReadAll()
			conn.Release()
			if err != nil {
				t.Fatal(err)
			}
		}
		if got, err := countAll(ctx, g, q); err != nil || len(got) != shards {
			t.Fatalf("after recreating: %d shards, %v", len(got), err)
		}
	})

	t.Run("callback error fails that shard only", func(t *testing.T) {
		boom := errors.New("boom")
		calls := 0
		err := g.FanOut(ctx, q, []any{int64(0)}, func(s Shard, rows pgx.Rows) error {
			calls++
			if s == 9 {
				return boom
			}
			return nil
		})
		if f := failedShards(err); len(f) != 1 || f[0] != 9 || !errors.Is(err, boom) {
			t.Fatalf("failed %v, err %v; want shard 9 with boom", f, err)
		}
		if calls != shards {
			t.Errorf("each called %d times, want %d", calls, shards)
		}
	})

	t.Run("ended context fails every shard", func(t *testing.T) {
		dead, cancel := context.WithCancel(ctx)
		cancel()
		calls := 0
		err := g.FanOut(dead, q, []any{int64(0)}, func(Shard, pgx.Rows) error { calls++; return nil })
		if f := failedShards(err); len(f) != shards || !errors.Is(err, context.Canceled) {
			t.Fatalf("failed %v, err %v; want all %d shards with context.Canceled", f, err, shards)
		}
		if calls != 0 {
			t.Errorf("each called %d times on a cancelled fan-out", calls)
		}
	})

	t.Run("query of another group", func(t *testing.T) {
		other, err := Open(ctx, splitConfig("blog", shards, urls, PoolConfig{}), spec)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		og, _ := other.Group("blog")
		err = g.FanOut(ctx, og.Prepare("SELECT 1 FROM @schema@.items"), nil, func(Shard, pgx.Rows) error { return nil })
		if !errors.Is(err, ErrWrongShard) {
			t.Errorf("err = %v, want ErrWrongShard", err)
		}
	})
}

func TestFanOutServerDown(t *testing.T) {
	servers, urls := pgtest.NewDatabase(t, 2, "fan")
	if servers[1].External() {
		t.Skip("needs servers pgtest can stop; SHARDGEN_TEST_DATABASE_URL servers cannot be")
	}
	const shards = 16
	spec := Spec{Groups: []GroupSpec{{Name: "blog", Shards: shards}}}
	r := openSplit(t, spec, urls, PoolConfig{MaxConns: 2, AcquireTimeout: 2 * time.Second})
	g, _ := r.Group("blog")
	createShardTables(t, g, distinctCounts)
	ctx := context.Background()
	q := g.Prepare("SELECT count(*) FROM @schema@.items WHERE id > $1")
	if _, err := countAll(ctx, g, q); err != nil {
		t.Fatal(err)
	}

	if err := servers[1].Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := countAll(ctx, g, q)
	elapsed := time.Since(start)
	f := failedShards(err)
	if len(f) != shards/2 {
		t.Fatalf("failed shards %v (err %v), want 8..15", f, err)
	}
	for i, s := range f {
		if s != Shard(shards/2+i) {
			t.Fatalf("failed shards %v, want 8..15", f)
		}
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
	var fe *FanOutError
	errors.As(err, &fe)
	for _, se := range fe.Failed {
		if se.Server != "s1" || se.Group != "blog" {
			t.Errorf("failure %v does not name server s1 of group blog", se)
		}
	}
	if len(got) != shards/2 || got[0] != 1 || got[7] != 8 {
		t.Errorf("server s0's results: %v", got)
	}
	if elapsed > 3*time.Second {
		t.Errorf("fan-out with a server down took %s; want within the 2s acquire timeout", elapsed)
	}

	if err := servers[1].Start(); err != nil {
		t.Fatal(err)
	}
	if got, err := countAll(ctx, g, q); err != nil || len(got) != shards {
		t.Fatalf("after restart: %d shards, %v", len(got), err)
	}
}
