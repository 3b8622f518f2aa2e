package runtime

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// recordTracer is a pgx.QueryTracer that records, per query, the target
// the runtime put in the context: what otelpgx or tracelog would put on a
// span or a log line.
type recordTracer struct {
	mu    sync.Mutex
	lines []string
	pool  string
}

func (r *recordTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	line := r.pool + " untargeted " + d.SQL
	if t, ok := TargetFromContext(ctx); ok {
		line = r.pool + " group=" + t.Group() + " database=" + t.Database() + " shard=" + strconv.Itoa(int(t.Shard())) + " server=" + t.Server().Name() + " schema=" + t.Schema()
	}
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	return ctx
}

func (r *recordTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestHooks runs the tests of pgx's hooks (Config.ConfigurePool), health
// and raw access on one pair of servers.
func TestHooks(t *testing.T) {
	f := newPGFixture(t)
	t.Run("StatsPingRawConn", func(t *testing.T) { testHooksStatsPingRawConn(t, f) })
	t.Run("AfterConnectRegistersType", func(t *testing.T) { testAfterConnectRegistersType(t, f) })
	t.Run("OpenTelemetrySpans", func(t *testing.T) { testOpenTelemetrySpans(t, f) })
}

// ConfigurePool installs pgx's hooks per server; the tracer sees group,
// shard and server; AfterConnect and PrepareConn run on each pool; Stats,
// Ping and WithConn work on real servers.
func testHooksStatsPingRawConn(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	tracers := map[string]*recordTracer{}
	var mu sync.Mutex
	connected := map[string]int{}
	prepared := map[string]int{}
	cfg := f.config(PoolConfig{})
	cfg.ConfigurePool = func(pi PoolInfo, pc *pgxpool.Config) error {
		name := "pool-b"
		if slices.Contains(pi.Databases, "default") {
			name = "pool-a"
		}
		tr := &recordTracer{pool: name}
		tracers[name] = tr
		pc.ConnConfig.Tracer = tr
		pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			mu.Lock()
			connected[name]++
			mu.Unlock()
			return nil
		}
		pc.PrepareConn = func(ctx context.Context, c *pgx.Conn) (bool, error) {
			mu.Lock()
			prepared[name]++
			mu.Unlock()
			return true, nil
		}
		pc.MaxConns = 1000 // reset by the runtime: the bound is PoolConfig's
		return nil
	}
	r, err := Open(ctx, cfg, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	g := mustGroup(t, r)
	q := g.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1")
	var got int
	if err := g.At(3).QueryRow(ctx, q).Scan(&got); err != nil || got != 3 {
		t.Fatalf("shard 3: %d, %v", got, err)
	}
	if err := g.At(12).InTx(ctx, func(tx *Tx) error { return tx.QueryRow(ctx, q).Scan(&got) }); err != nil || got != 12 {
		t.Fatalf("shard 12 in a tx: %d, %v", got, err)
	}
	db, _ := r.Database("default")
	if _, err := db.Target().Exec(ctx, db.Prepare("SELECT 1 FROM @schema@.notes")); err != nil {
		t.Fatal(err)
	}
	wantA := []string{
		"pool-a group=blog database= shard=3 server=a schema=\"blog_0003\"",
		"pool-a group= database=default shard=-1 server=default schema=\"public\"",
	}
	for _, w := range wantA {
		if !slices.Contains(tracers["pool-a"].lines, w) {
			t.Errorf("tracer of a lacks %q: %q", w, tracers["pool-a"].lines)
		}
	}
	if !slices.Contains(tracers["pool-b"].lines, "pool-b group=blog database= shard=12 server=b schema=\"blog_0012\"") {
		t.Errorf("tracer of b: %q", tracers["pool-b"].lines)
	}
	if connected["pool-a"] == 0 || connected["pool-b"] == 0 || prepared["pool-a"] == 0 || prepared["pool-b"] == 0 {
		t.Errorf("AfterConnect %v PrepareConn %v", connected, prepared)
	}

	// Stats: one entry per pool, with who uses it.
	st := r.Stats()
	if len(st) != 2 || st[0].MaxConns != DefaultMaxConns || st[0].Acquires == 0 || st[1].Servers[0] != (GroupServer{"blog", "b"}) || st[0].Down {
		t.Errorf("stats: %+v", st)
	}
	if err := r.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}

	// Raw pgx: CopyFrom into one shard's table through WithConn.
	err = g.At(5).WithConn(ctx, func(c *pgx.Conn, schema string) error {
		_, err := c.CopyFrom(ctx, pgx.Identifier{strings.Trim(schema, `"`), "kv"}, []string{"k", "shard", "v"},
			pgx.CopyFromRows([][]any{{int64(1), 5, "copied"}, {int64(2), 5, "copied"}}))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := g.At(5).QueryRow(ctx, g.Prepare("SELECT count(*) FROM @schema@.kv WHERE v = 'copied'")).Scan(&n); err != nil || n != 2 {
		t.Errorf("rows copied into shard 5: %d, %v", n, err)
	}
	// Tx.Pgx: a batch inside a shard's transaction.
	err = g.At(5).InTx(ctx, func(tx *Tx) error {
		b := &pgx.Batch{}
		b.Queue("DELETE FROM " + tx.Target().Schema() + ".kv WHERE v = 'copied'")
		return tx.Pgx().SendBatch(ctx, b).Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	// fn's error comes back unchanged.
	sentinel := errors.New("mine")
	if err := g.At(5).WithConn(ctx, func(*pgx.Conn, string) error { return sentinel }); err != sentinel {
		t.Errorf("WithConn error: %v", err)
	}
	// An out-of-range shard fails like every call.
	if err := g.At(99).WithConn(ctx, func(*pgx.Conn, string) error { return nil }); !errors.Is(err, ErrWrongShard) {
		t.Errorf("WithConn on shard 99: %v", err)
	}
}

// AfterConnect registers a type on the servers that have it (an enum and
// its array, as for pgvector), per server: the connections of server a
// know it, those of server b do not, and both serve.
func testAfterConnectRegistersType(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	plain := f.open(t, PoolConfig{})
	db, _ := plain.Database("default")
	if _, err := db.Target().Exec(ctx, db.Prepare("CREATE TYPE @schema@.mood AS ENUM ('calm', 'stormy')")); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(PoolConfig{})
	var registered []string
	cfg.ConfigurePool = func(pi PoolInfo, pc *pgxpool.Config) error {
		if !slices.Contains(pi.Databases, "default") {
			return nil // only server a's database has the type
		}
		registered = append(registered, pi.Addr)
		pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			for _, name := range []string{"public.mood", "public._mood"} {
				typ, err := c.LoadType(ctx, name) // fails where the type does not exist
				if err != nil {
					return err
				}
				c.TypeMap().RegisterType(typ)
			}
			return nil
		}
		return nil
	}
	r, err := Open(ctx, cfg, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	db, _ = r.Database("default")
	var got []string
	if err := db.Target().QueryRow(ctx, db.Prepare("SELECT ARRAY['calm', 'stormy']::@schema@.mood[]")).Scan(&got); err != nil || !slices.Equal(got, []string{"calm", "stormy"}) {
		t.Errorf("with the type registered: %q, %v", got, err)
	}
	g := mustGroup(t, r)
	known := func(tg Target) bool {
		var ok bool
		if err := tg.WithConn(ctx, func(c *pgx.Conn, _ string) error {
			_, ok = c.TypeMap().TypeForName("public._mood")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !known(db.Target()) || !known(g.At(3)) || known(g.At(12)) {
		t.Errorf("type known on default %v, shard 3 (server a) %v, shard 12 (server b) %v; want true, true, false", known(db.Target()), known(g.At(3)), known(g.At(12)))
	}
	if len(registered) != 1 {
		t.Errorf("ConfigurePool registered the type on %v, want server a's pool only", registered)
	}
}
