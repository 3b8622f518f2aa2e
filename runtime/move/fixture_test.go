package move_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/move"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// spec is a group of shards with one table whose IDs come from the
// per-shard ID function, and a default database that holds the placement.
func spec(shards int) runtime.Spec {
	return runtime.Spec{
		Databases: []runtime.DatabaseSpec{{Name: "default"}},
		Groups: []runtime.GroupSpec{{Name: "blog", Shards: shards, Migrations: []runtime.Migration{{
			Version: 1, Name: "items",
			SQL: `CREATE TABLE @schema@.items (
	id bigint NOT NULL DEFAULT @schema@.shardgen_next_id() PRIMARY KEY,
	k bigint NOT NULL,
	v text NOT NULL,
	at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);`,
		}}}},
	}
}

// logical are the settings a move's servers need.
var logical = map[string]string{"wal_level": "logical", "max_replication_slots": "20", "max_wal_senders": "20",
	"max_sync_workers_per_subscription": "4", "max_logical_replication_workers": "8", "max_worker_processes": "16"}

// fixture is three servers: a (control database and shards 0..n/2-1), b
// (the rest) and c (empty, the target).
type fixture struct {
	servers []*pgtest.Server
	cfg     runtime.Config
	spec    runtime.Spec
}

func newFixture(t testing.TB, shards int) *fixture {
	t.Helper()
	if os.Getenv(pgtest.EnvDatabaseURL) != "" {
		// Logical replication between databases of one cluster hangs in
		// CREATE SUBSCRIPTION; moves need separate servers.
		t.Skip("moves need separate PostgreSQL servers; unset " + pgtest.EnvDatabaseURL)
	}
	servers := pgtest.NewWith(t, 3, pgtest.Options{Settings: logical})
	ctx := context.Background()
	for _, s := range servers {
		if err := s.CreateDatabase(ctx, "app"); err != nil {
			t.Fatal(err)
		}
	}
	half := shards / 2
	cfg := runtime.Config{
		Databases: map[string]string{"default": servers[0].URL("app")},
		Groups: map[string][]runtime.ServerConfig{"blog": {
			{Name: "a", URL: servers[0].URL("app"), Shards: fmt.Sprintf("0-%d", half-1)},
			{Name: "b", URL: servers[1].URL("app"), Shards: fmt.Sprintf("%d-%d", half, shards-1)},
			{Name: "c", URL: servers[2].URL("app")},
		}},
		Pool: runtime.PoolConfig{MaxConns: 16},
	}
	f := &fixture{servers: servers, cfg: cfg, spec: spec(shards)}
	r := f.router(t)
	if err := runtime.Migrate(ctx, r, f.spec, runtime.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) router(t testing.TB) *runtime.Router {
	t.Helper()
	r, err := runtime.Open(context.Background(), f.cfg, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func (f *fixture) opts() move.Options {
	return move.Options{Config: f.cfg, Spec: f.spec, FenceLockTimeout: 500 * time.Millisecond}
}

func (f *fixture) conn(t testing.TB, i int) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), f.servers[i].URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// artifacts counts what a move may leave behind on server i: replication
// slots, publications, subscriptions, fence triggers (outside retired
// copies) and marker tables.
func (f *fixture) artifacts(t testing.TB, i int) string {
	t.Helper()
	var slots, pubs, subs, fences, markers int
	err := f.conn(t, i).QueryRow(context.Background(), `SELECT
	(SELECT count(*) FROM pg_replication_slots),
	(SELECT count(*) FROM pg_publication),
	(SELECT count(*) FROM pg_subscription),
	(SELECT count(*) FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE tg.tgname = 'shardgen_fence' AND n.nspname NOT LIKE 'shardgen_moved_%'),
	(SELECT count(*) FROM pg_class WHERE relname LIKE 'shardgen_move_%_marker')`).Scan(&slots, &pubs, &subs, &fences, &markers)
	if err != nil {
		t.Fatal(err)
	}
	if slots+pubs+subs+fences+markers == 0 {
		return ""
	}
	return fmt.Sprintf("server %d: %d slots, %d publications, %d subscriptions, %d fence triggers, %d marker tables", i, slots, pubs, subs, fences, markers)
}

func (f *fixture) noArtifacts(t testing.TB) {
	t.Helper()
	for i := range f.servers {
		if a := f.artifacts(t, i); a != "" {
			t.Errorf("left behind: %s", a)
		}
	}
}

// rows returns id -> k of every row of the shards' schemas (or their
// retired copies, with prefix) on server i.
func (f *fixture) rows(t testing.TB, i int, schemas []string) map[int64]int64 {
	t.Helper()
	c := f.conn(t, i)
	out := map[int64]int64{}
	for _, s := range schemas {
		rows, err := c.Query(context.Background(), "SELECT id, k FROM "+runtime.QuoteIdent(s)+".items")
		if err != nil {
			t.Fatalf("server %d schema %s: %v", i, s, err)
		}
		for rows.Next() {
			var id, k int64
			if err := rows.Scan(&id, &k); err != nil {
				t.Fatal(err)
			}
			out[id] = k
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func schemas(first, last int, prefix string) []string {
	var out []string
	for s := first; s <= last; s++ {
		out = append(out, prefix+runtime.SchemaName("blog", runtime.Shard(s)))
	}
	return out
}

// childEnv carries a mover's configuration to a re-executed test binary.
type childEnv struct {
	Config    runtime.Config
	Shards    int
	Group     string
	First     int
	Last      int
	To        string
	BlockAt   string
	ResumeID  int64
	Operation string
}

func (c childEnv) encode() string {
	b, _ := json.Marshal(c)
	return string(b)
}
