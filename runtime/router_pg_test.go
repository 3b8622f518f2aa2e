package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// pgFixture is two throwaway servers ("a" and "b"), database "app" on each,
// group blog of 16 shards (0-7 on a, 8-15 on b), database "default" on a,
// and in every shard schema a table kv whose row k = -1 records the shard.
type pgFixture struct {
	servers []*pgtest.Server
	urls    []string
	spec    Spec
}

const kvDDL = `CREATE SCHEMA @schema@;
CREATE TABLE @schema@.kv (k bigint PRIMARY KEY, shard int NOT NULL, v text NOT NULL);
INSERT INTO @schema@.kv VALUES (-1, @shard@, '@schema@')`

func newPGFixture(t testing.TB) *pgFixture {
	t.Helper()
	servers, urls := pgtest.NewDatabase(t, 2, "app")
	f := &pgFixture{
		servers: servers,
		urls:    urls,
		spec: Spec{
			Databases: []DatabaseSpec{{Name: "default"}},
			Groups:    []GroupSpec{{Name: "blog", Shards: 16}},
		},
	}
	r := f.open(t, PoolConfig{})
	g, _ := r.Group("blog")
	ddl := g.Prepare(kvDDL)
	for s := range Shard(16) {
		if _, err := g.At(s).Exec(context.Background(), ddl); err != nil {
			t.Fatal(err)
		}
	}
	db, _ := r.Database("default")
	if _, err := db.Target().Exec(context.Background(), db.Prepare("CREATE TABLE @schema@.notes (id bigint PRIMARY KEY, body text)")); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *pgFixture) config(pool PoolConfig) Config {
	return Config{
		Databases: map[string]string{"default": f.urls[0]},
		Groups: map[string][]ServerConfig{"blog": {
			{Name: "a", URL: f.urls[0], Shards: "0-7"},
			{Name: "b", URL: f.urls[1], Shards: "8-15"},
		}},
		Pool: pool,
	}
}

func (f *pgFixture) open(t testing.TB, pool PoolConfig) *Router {
	t.Helper()
	r, err := Open(context.Background(), f.config(pool), f.spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func mustGroup(t testing.TB, r *Router) *Group {
	t.Helper()
	g, err := r.Group("blog")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestPG runs the single-shard behaviour over one pair of servers.
func TestPG(t *testing.T) {
	f := newPGFixture(t)
	t.Run("Routing", func(t *testing.T) { testRouting(t, f) })
	t.Run("AlternatingReadsOneConn", func(t *testing.T) { testAlternatingReads(t, f) })
	t.Run("PoolExhaustion", func(t *testing.T) { testPoolExhaustion(t, f) })
	t.Run("ManyShardsBoundedConns", func(t *testing.T) { testManyShardsBoundedConns(t, f) })
	t.Run("NotFoundAndErrors", func(t *testing.T) { testNotFoundAndErrors(t, f) })
	t.Run("Tx", func(t *testing.T) { testTx(t, f) })
	t.Run("Injection", func(t *testing.T) { testInjection(t, f) })
	t.Run("DSN", func(t *testing.T) { testDSN(t, f) })
	t.Run("AllocsVsPgx", func(t *testing.T) { testAllocsVsPgx(t, f) })
	// Last: it stops and restarts server b.
	t.Run("ServerDown", func(t *testing.T) { testServerDown(t, f) })
}

func testRouting(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	r := f.open(t, PoolConfig{})
	g := mustGroup(t, r)
	if len(r.pools) != 2 {
		t.Errorf("%d pools, want 2 (the default database shares server a's pool)", len(r.pools))
	}
	defer func() {
		// 16 shards: the texts fit pgx's statement cache, which auto mode
		// keeps using.
		for _, sp := range r.pools {
			if a, _ := sp.args([]any{1}); !sp.auto || sp.cacheCap != 512 || len(a) != 1 {
				t.Errorf("pool %s: auto=%v cap=%d texts=%d args=%v, want cached statements", sp.where, sp.auto, sp.cacheCap, sp.texts.Load(), a)
			}
		}
	}()
	ins := g.Prepare("INSERT INTO @schema@.kv (k, shard, v) VALUES ($1, $2, $3)")
	port := g.Prepare("SELECT inet_server_port(), current_database(), '@schema@'")
	const keys = 400
	for k := int64(0); k < keys; k++ {
		s := g.ShardOfInt64(k)
		if _, err := g.At(s).Exec(ctx, ins, k, int(s), fmt.Sprint("v", k)); err != nil {
			t.Fatal(err)
		}
	}
	for s := range Shard(16) {
		var p int
		var db, schema string
		if err := g.At(s).QueryRow(ctx, port).Scan(&p, &db, &schema); err != nil {
			t.Fatal(err)
		}
		want := f.servers[0]
		if s >= 8 {
			want = f.servers[1]
		}
		if !want.External() && p != want.Port() {
			t.Errorf("shard %d ran on port %d, want %d (%s)", s, p, want.Port(), want.Name())
		}
		if schema != QuoteIdent(SchemaName("blog", s)) || g.ServerOf(s).Name() != map[bool]string{true: "a", false: "b"}[s < 8] {
			t.Errorf("shard %d: schema %s server %s", s, schema, g.ServerOf(s))
		}
	}
	// Check placement directly on each server: every row sits in the schema
	// its key hashes to, on the server owning that schema.
	total := 0
	for i, u := range f.urls {
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		first := 8 * i
		for s := first; s < first+8; s++ {
			rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT k, shard FROM "blog_%04d".kv WHERE k >= 0`, s))
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var k int64
				var sh int
				if err := rows.Scan(&k, &sh); err != nil {
					t.Fatal(err)
				}
				if int(ShardForInt64(k, 16)) != s || sh != s {
					t.Errorf("key %d found in blog_%04d (stored shard %d), hashes to %d", k, s, sh, ShardForInt64(k, 16))
				}
				total++
			}
			rows.Close()
		}
		conn.Close(ctx)
	}
	if total != keys {
		t.Errorf("found %d rows, inserted %d", total, keys)
	}
	del := g.Prepare("DELETE FROM @schema@.kv WHERE k >= 0")
	for s := range Shard(16) {
		if _, err := g.At(s).Exec(ctx, del); err != nil {
			t.Fatal(err)
		}
	}
}

// testAlternatingReads: with one connection per server, 1,000 reads that
// alternate between shards (and between Query and QueryRow) always see
// their own schema: no session state leaks between uses of a connection.
func testAlternatingReads(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	r := f.open(t, PoolConfig{MaxConns: 1})
	g := mustGroup(t, r)
	q := g.Prepare("SELECT shard, v FROM @schema@.kv WHERE k = $1")
	for i := range 1000 {
		s := Shard(i % 16)
		if i%3 == 0 {
			s = Shard((i * 7) % 16)
		}
		var got int
		var v string
		if i%2 == 0 {
			if err := g.At(s).QueryRow(ctx, q, -1).Scan(&got, &v); err != nil {
				t.Fatal(err)
			}
		} else {
			rows, err := g.At(s).Query(ctx, q, -1)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				if err := rows.Scan(&got, &v); err != nil {
					t.Fatal(err)
				}
				n++
			}
			if err := rows.Err(); err != nil || n != 1 {
				t.Fatalf("rows: n=%d err=%v", n, err)
			}
		}
		if Shard(got) != s || v != QuoteIdent(SchemaName("blog", s)) {
			t.Fatalf("read %d on shard %d returned shard %d (%s)", i, s, got, v)
		}
	}
	for _, sp := range r.pools {
		if n := sp.pool.Stat().TotalConns(); n > 1 {
			t.Errorf("pool %s has %d connections, MaxConns is 1", sp.where, n)
		}
	}
}

func testPoolExhaustion(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	const timeout = 300 * time.Millisecond
	r := f.open(t, PoolConfig{MaxConns: 1, AcquireTimeout: timeout})
	g := mustGroup(t, r)
	q := g.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1")

	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- g.InTx(ctx, 0, func(tx *Tx) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held

	// Server a's only connection is taken: shard 3 (also on a) times out.
	start := time.Now()
	var s int
	err := g.At(3).QueryRow(ctx, q).Scan(&s)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrPoolTimeout) {
		t.Fatalf("got %v, want ErrPoolTimeout", err)
	}
	var se *ShardError
	if !errors.As(err, &se) || se.Group != "blog" || se.Shard != 3 || se.Server != "a" {
		t.Errorf("ShardError = %+v", se)
	}
	if elapsed < timeout-10*time.Millisecond || elapsed > timeout+500*time.Millisecond {
		t.Errorf("timed out after %s, want about %s", elapsed, timeout)
	}
	if !strings.Contains(err.Error(), `group blog shard 3 (blog_0003) on server "a": connection pool exhausted`) {
		t.Errorf("message: %v", err)
	}

	// The caller's shorter deadline wins.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	start = time.Now()
	_, err = g.At(4).Exec(short, q)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 250*time.Millisecond {
		t.Errorf("with a 50ms deadline: %v after %s", err, time.Since(start))
	}

	// Server b is unaffected.
	if err := g.At(12).QueryRow(ctx, q).Scan(&s); err != nil || s != 12 {
		t.Errorf("shard 12 on b: %d, %v", s, err)
	}

	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := g.At(3).QueryRow(ctx, q).Scan(&s); err != nil || s != 3 {
		t.Errorf("after release: %d, %v", s, err)
	}
}

// testManyShardsBoundedConns: 4,096 logical shards on the two servers
// share each server's pool of MaxConns connections.
func testManyShardsBoundedConns(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	spec := Spec{Groups: []GroupSpec{{Name: "wide", Shards: 4096}}}
	cfg := Config{
		Groups: map[string][]ServerConfig{"wide": {
			{Name: "a", URL: f.urls[0], Shards: "0-2047"},
			{Name: "b", URL: f.urls[1], Shards: "2048-4095"},
		}},
		Pool: PoolConfig{MaxConns: 3},
	}
	r, err := Open(ctx, cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	g, _ := r.Group("wide")
	q := g.Prepare("SELECT @shard@::int, '@schema@'")
	var wg sync.WaitGroup
	var maxConns atomic.Int32
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := Shard(w); s < 4096; s += 8 {
				var got int
				var schema string
				if err := g.At(s).QueryRow(ctx, q).Scan(&got, &schema); err != nil {
					errs <- err
					return
				}
				if Shard(got) != s || schema != fmt.Sprintf(`"wide_%04d"`, s) {
					errs <- fmt.Errorf("shard %d answered %d %s", s, got, schema)
					return
				}
				for _, sp := range r.pools {
					if n := sp.pool.Stat().TotalConns(); n > maxConns.Load() {
						maxConns.Store(n)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(r.pools) != 2 || maxConns.Load() > 3 {
		t.Errorf("%d pools, at most %d connections per pool; want 2 pools, <= 3", len(r.pools), maxConns.Load())
	}
	// Auto exec mode: 2,048 texts per server outgrow the 512-entry statement
	// cache, so calls switched to QueryExecModeExec (after the first 512
	// texts ran cached, on the same connections, with the same results).
	for _, sp := range r.pools {
		if n := sp.texts.Load(); n != 2048 {
			t.Errorf("pool %s rendered %d texts, want 2048", sp.where, n)
		}
		if a, _ := sp.args([]any{1}); !sp.auto || len(a) != 2 || a[0] != pgx.QueryExecModeExec {
			t.Errorf("pool %s: auto=%v args=%v, want exec mode prefixed", sp.where, sp.auto, a)
		}
	}
}

func testNotFoundAndErrors(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	r := f.open(t, PoolConfig{})
	g := mustGroup(t, r)
	q := g.Prepare("SELECT v FROM @schema@.kv WHERE k = $1")
	var v string
	err := g.At(9).QueryRow(ctx, q, 12345).Scan(&v)
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("got %v, want ErrNotFound and pgx.ErrNoRows", err)
	}
	var se *ShardError
	if !errors.As(err, &se) || se.Group != "blog" || se.Shard != 9 || se.Server != "b" {
		t.Errorf("ShardError = %+v", se)
	}

	// A Row is scanned once.
	row := g.At(9).QueryRow(ctx, q, -1)
	if err := row.Scan(&v); err != nil {
		t.Fatal(err)
	}
	if err := row.Scan(&v); !errors.Is(err, errScannedTwice) {
		t.Errorf("second Scan: %v", err)
	}

	// SQL errors keep their *pgconn.PgError.
	bad := g.Prepare("SELECT nope FROM @schema@.kv")
	_, err = g.At(1).Exec(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), `column "nope" does not exist`) || errors.Is(err, ErrUnavailable) {
		t.Errorf("bad column: %v", err)
	}
	rows, err := g.At(1).Query(ctx, bad)
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
	}
	if !errors.As(err, &se) || se.Shard != 1 {
		t.Errorf("Query error: %v", err)
	}
	// The connection is usable afterwards.
	if err := g.At(1).QueryRow(ctx, q, -1).Scan(&v); err != nil {
		t.Errorf("after error: %v", err)
	}

	// A query without SchemaToken is refused, not run unqualified.
	_, err = g.At(1).Exec(ctx, g.Prepare("SELECT 1 FROM kv"))
	if err == nil || !strings.Contains(err.Error(), "does not contain @schema@") {
		t.Errorf("unqualified query: %v", err)
	}
	// Queries are bound to their group or database.
	db, _ := r.Database("default")
	_, err = g.At(1).Exec(ctx, db.Prepare("SELECT 1"))
	if !errors.Is(err, ErrWrongShard) {
		t.Errorf("database query on a shard: %v", err)
	}
	_, err = db.Target().Exec(ctx, g.Prepare("SELECT 1 FROM @schema@.kv"))
	if !errors.Is(err, ErrWrongShard) {
		t.Errorf("group query on a database: %v", err)
	}
	if _, err := g.At(16).Exec(ctx, q); !errors.Is(err, ErrWrongShard) {
		t.Errorf("shard 16 of 16: %v", err)
	}
	if _, err := g.ShardOfID(-5); !errors.Is(err, ErrNotFound) {
		t.Errorf("ShardOfID(-5): %v", err)
	}
	id := int64(1)<<23 | int64(200)<<10 // shard 200 of a 16-shard group
	if _, err := g.ShardOfID(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("ShardOfID(shard 200): %v", err)
	}
	if s, err := g.ShardOfID(int64(1)<<23 | int64(13)<<10 | 5); err != nil || s != 13 {
		t.Errorf("ShardOfID = %d, %v; want 13", s, err)
	}
}

func testTx(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	r := f.open(t, PoolConfig{})
	g := mustGroup(t, r)
	ins := g.Prepare("INSERT INTO @schema@.kv (k, shard, v) VALUES ($1, @shard@, $2)")
	get := g.Prepare("SELECT v FROM @schema@.kv WHERE k = $1")
	boom := errors.New("boom")
	err := g.InTx(ctx, 10, func(tx *Tx) error {
		if tx.Shard() != 10 {
			t.Errorf("tx.Shard() = %d", tx.Shard())
		}
		if _, err := tx.Exec(ctx, ins, 1, "rolled back"); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("InTx returned %v, want fn's error unchanged", err)
	}
	var v string
	if err := g.At(10).QueryRow(ctx, get, 1).Scan(&v); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rolled-back row: %q, %v", v, err)
	}
	err = g.InTx(ctx, 10, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, ins, 1, "one"); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, get, 1).Scan(&v); err != nil || v != "one" {
			return fmt.Errorf("read own write: %q %v", v, err)
		}
		if err := tx.QueryRow(ctx, get, 2).Scan(&v); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("missing row in tx: %v", err)
		}
		rows, err := tx.Query(ctx, get, 1)
		if err != nil {
			return err
		}
		rows.Close()
		_, err = tx.Exec(ctx, ins, 2, "two")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[int64]string{1: "one", 2: "two"} {
		if err := g.At(10).QueryRow(ctx, get, k).Scan(&v); err != nil || v != want {
			t.Errorf("k=%d: %q, %v", k, v, err)
		}
	}
	// A panic in fn rolls back and propagates.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic was swallowed")
			}
		}()
		_ = g.InTx(ctx, 10, func(tx *Tx) error {
			tx.Exec(ctx, ins, 3, "panic")
			panic("fn panicked")
		})
	}()
	if err := g.At(10).QueryRow(ctx, get, 3).Scan(&v); !errors.Is(err, ErrNotFound) {
		t.Errorf("row of panicked tx: %v", err)
	}
	// Database transactions.
	db, _ := r.Database("default")
	note := db.Prepare("INSERT INTO @schema@.notes VALUES ($1, $2)")
	if err := db.InTx(ctx, func(tx *Tx) error {
		if tx.Shard() != -1 {
			t.Errorf("database tx shard %d", tx.Shard())
		}
		_, err := tx.Exec(ctx, note, 1, "hello")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	del := g.Prepare("DELETE FROM @schema@.kv WHERE k >= 0")
	g.At(10).Exec(ctx, del)
}

// testInjection: names reach SQL only after validation and quoting; values
// only as bind parameters.
func testInjection(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	r := f.open(t, PoolConfig{})
	g := mustGroup(t, r)
	evil := `x'); DROP SCHEMA "blog_0001" CASCADE; --`
	ins := g.Prepare("INSERT INTO @schema@.kv (k, shard, v) VALUES ($1, @shard@, $2)")
	get := g.Prepare("SELECT v FROM @schema@.kv WHERE k = $1")
	if _, err := g.At(1).Exec(ctx, ins, 77, evil); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := g.At(1).QueryRow(ctx, get, 77).Scan(&v); err != nil || v != evil {
		t.Fatalf("value round trip: %q, %v", v, err)
	}
	g.At(1).Exec(ctx, g.Prepare("DELETE FROM @schema@.kv WHERE k = 77"))

	for _, name := range []string{`blog"; DROP SCHEMA blog_0001 CASCADE; --`, "Blog", "blog-1", "blog 1", "", "blog\x00"} {
		spec := Spec{Groups: []GroupSpec{{Name: name, Shards: 16}}}
		cfg := Config{Groups: map[string][]ServerConfig{name: {{Name: "a", URL: f.urls[0], Shards: "0-15"}}}}
		if _, err := Open(ctx, cfg, spec); err == nil {
			t.Errorf("group name %q accepted", name)
		}
		spec = Spec{Databases: []DatabaseSpec{{Name: name}}}
		if _, err := Open(ctx, Config{Databases: map[string]string{name: f.urls[0]}}, spec); err == nil {
			t.Errorf("database name %q accepted", name)
		}
		cfg = Config{Groups: map[string][]ServerConfig{"blog": {{Name: name, URL: f.urls[0], Shards: "0-15"}}}}
		if _, err := Open(ctx, cfg, f.spec); err == nil {
			t.Errorf("server name %q accepted", name)
		}
	}
	// Schema 1 is intact.
	if err := g.At(1).QueryRow(ctx, get, -1).Scan(&v); err != nil {
		t.Fatal(err)
	}
}

func testDSN(t *testing.T, f *pgFixture) {
	if f.servers[0].External() {
		t.Skip("external server: no DSN form")
	}
	ctx := context.Background()
	cfg := f.config(PoolConfig{})
	cfg.Databases["default"] = f.servers[0].DSN("app")
	cfg.Groups["blog"][1].URL = f.servers[1].DSN("app")
	r, err := Open(ctx, cfg, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.pools) != 3 {
		t.Errorf("%d pools, want 3 (a by URL, a by DSN, b)", len(r.pools))
	}
	g := mustGroup(t, r)
	var s int
	if err := g.At(9).QueryRow(ctx, g.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1")).Scan(&s); err != nil || s != 9 {
		t.Errorf("over DSN: %d, %v", s, err)
	}
}

// testServerDown stops server b while writers run on every shard: a keeps
// serving, b's calls fail fast with ErrUnavailable naming b, b serves again
// after restart, and every acknowledged write is there.
func testServerDown(t *testing.T, f *pgFixture) {
	b := f.servers[1]
	if b.External() {
		t.Skip("external server cannot be stopped")
	}
	ctx := context.Background()
	const timeout = 2 * time.Second
	r := f.open(t, PoolConfig{MaxConns: 4, AcquireTimeout: timeout})
	g := mustGroup(t, r)
	ins := g.Prepare("INSERT INTO @schema@.kv (k, shard, v) VALUES ($1, @shard@, 'w')")
	get := g.Prepare("SELECT shard FROM @schema@.kv WHERE k = $1")

	var mu sync.Mutex
	acked := map[int64]bool{}
	var next atomic.Int64
	next.Store(1000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var slowest atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := next.Add(1)
				start := time.Now()
				_, err := g.At(g.ShardOfInt64(k)).Exec(ctx, ins, k)
				if d := time.Since(start); int64(d) > slowest.Load() {
					slowest.Store(int64(d))
				}
				if err == nil {
					mu.Lock()
					acked[k] = true
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)

	// While b is down: a's shards serve, b's fail fast and typed.
	for s := range Shard(16) {
		var got int
		start := time.Now()
		err := g.At(s).QueryRow(ctx, get, -1).Scan(&got)
		if s < 8 {
			if err != nil || got != int(s) {
				t.Errorf("shard %d on a while b is down: %d, %v", s, got, err)
			}
			continue
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("shard %d on stopped b: %v, want ErrUnavailable", s, err)
		}
		var se *ShardError
		if !errors.As(err, &se) || se.Server != "b" || se.Shard != s || se.Group != "blog" {
			t.Errorf("shard %d: ShardError %+v", s, se)
		}
		if d := time.Since(start); d > timeout {
			t.Errorf("shard %d failed after %s, want within %s", s, d, timeout)
		}
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if d := time.Duration(slowest.Load()); d > timeout+time.Second {
		t.Errorf("slowest write took %s, want within the %s acquire timeout", d, timeout)
	}

	// b serves again at once: dead pooled connections are pinged and replaced.
	for s := Shard(8); s < 16; s++ {
		var got int
		if err := g.At(s).QueryRow(ctx, get, -1).Scan(&got); err != nil || got != int(s) {
			t.Errorf("shard %d after restart: %d, %v", s, got, err)
		}
	}
	// No acknowledged write is lost.
	mu.Lock()
	defer mu.Unlock()
	onB := 0
	for k := range acked {
		s := g.ShardOfInt64(k)
		var got int
		if err := g.At(s).QueryRow(ctx, get, k).Scan(&got); err != nil || got != int(s) {
			t.Errorf("acknowledged write %d (shard %d) lost: %v", k, s, err)
		}
		if s >= 8 {
			onB++
		}
	}
	t.Logf("%d acknowledged writes (%d on b) all present; slowest call %s", len(acked), onB, time.Duration(slowest.Load()))
	if len(acked) == 0 || onB == 0 {
		t.Errorf("writers made no progress (%d acked, %d on b)", len(acked), onB)
	}
}

// testAllocsVsPgx: a single-shard QueryRow and Exec through the runtime
// allocate no more than the same call on plain pgxpool (the budget
// is +2; the chunked wrappers make it +0, allow +1 for noise).
func testAllocsVsPgx(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{0, pgx.QueryExecModeExec} {
		r := f.open(t, PoolConfig{MaxConns: 1, QueryExecMode: mode})
		g := mustGroup(t, r)
		get := g.Prepare("SELECT shard, v FROM @schema@.kv WHERE k = $1")
		upd := g.Prepare("UPDATE @schema@.kv SET v = v WHERE k = $1")
		pool := g.ServerOf(3).pool.pool
		getText, updText := get.Text(3), upd.Text(3)
		pgxMode := mode
		if pgxMode == 0 {
			pgxMode = pgx.QueryExecModeCacheStatement
		}
		var sh int
		var v string
		key := int64(-1)
		measure := func(fn func() error) float64 {
			return testing.AllocsPerRun(200, func() {
				if err := fn(); err != nil {
					t.Fatal(err)
				}
			})
		}
		rtGet := measure(func() error { return g.At(3).QueryRow(ctx, get, key).Scan(&sh, &v) })
		pgxGet := measure(func() error { return pool.QueryRow(ctx, getText, pgxMode, key).Scan(&sh, &v) })
		rtUpd := measure(func() error { _, err := g.At(3).Exec(ctx, upd, key); return err })
		pgxUpd := measure(func() error { _, err := pool.Exec(ctx, updText, pgxMode, key); return err })
		name := "auto"
		if mode != 0 {
			name = mode.String()
		}
		t.Logf("mode %s: QueryRow runtime %.1f vs pgx %.1f allocs; Exec runtime %.1f vs pgx %.1f", name, rtGet, pgxGet, rtUpd, pgxUpd)
		if rtGet > pgxGet+1 || rtUpd > pgxUpd+1 {
			t.Errorf("mode %s: runtime allocates more than pgx + 1 (QueryRow %.1f vs %.1f, Exec %.1f vs %.1f)", name, rtGet, pgxGet, rtUpd, pgxUpd)
		}
	}
}
