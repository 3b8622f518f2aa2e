// Package workload is the benchmark of issue 6 (BENCHMARKS.md), shared by
// the main module's benchmarks (bench/) and the peer comparison module
// (bench/peers/, which adds GORM): the data set, its setup on two
// throwaway PostgreSQL servers, the operations, and the driver that runs
// every variant of every operation as sub-benchmarks of one go test -bench
// run.
//
// The data set is one table, items, sharded by user_id: Size.Users users
// with Size.RowsPerUser rows each (100,000 rows over 1,000 users at full
// size), loaded once into group "small" (16 logical shards) and once into
// group "large" (4,096 logical shards) of package benchdb. Each group lives
// in databases of its own on the two servers, so that the runtime gives it
// pools of its own, as a deployment of one group would have.
//
// A variant is one data layer's implementation of the operations (Ops):
// shardgen's generated repositories (Generated), the hand-written pgx
// floor (HandPGX, HandPGXSequential) and, in bench/peers, GORM with
// gorm.io/sharding.
package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/bench/benchdb"
	"github.com/shardgen/shardgen/bench/handpgx"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// Size is the size of the data set.
type Size struct {
	Users       int
	RowsPerUser int
}

// Rows is the number of rows loaded into each group.
func (s Size) Rows() int { return s.Users * s.RowsPerUser }

// FullSize is the data set of issue 6: 100,000 rows over 1,000 users.
var FullSize = Size{Users: 1000, RowsPerUser: 100}

// SmokeSize is a small data set for tests and -short runs.
var SmokeSize = Size{Users: 40, RowsPerUser: 25}

// PageSize is the length of ListByKey's page: the latest 20 rows of a user.
const PageSize = 20

// MaxConns is the pool bound per physical server of every variant (the
// runtime's default).
const MaxConns = runtime.DefaultMaxConns

// Ref names one loaded row: its ID and its user (shard key).
type Ref struct{ ID, User int64 }

// Group is the data of one shard group: its users and rows, and the
// hand-written store over the same tables.
type Group struct {
	// Name is the group's name in benchdb ("small" or "large").
	Name string
	// Shards is its number of logical shards.
	Shards int
	// URLs are the group's database on each server, in server order;
	// server i holds the i-th half of the logical shards.
	URLs []string
	// Users are the users' IDs (1..Size.Users) in a fixed random order.
	Users []int64
	// Refs are the loaded rows in a fixed random order.
	Refs []Ref
	// Mode is the exec mode of the hand-written pools (see HandMode).
	Mode pgx.QueryExecMode
	// Hand is the hand-written store over the group's tables.
	Hand *handpgx.Store

	warm map[string]bool // sub-benchmarks already warmed up
}

// Env is a loaded benchmark environment: two servers, the router and the
// generated data layer over them, and both groups loaded.
type Env struct {
	Size    Size
	Servers []*pgtest.Server
	Router  *runtime.Router
	DB      *benchdb.DB
	Small   *Group
	Large   *Group
}

// Groups returns the groups in the order they are benchmarked (only the
// loaded ones).
func (e *Env) Groups() []*Group {
	if e.Large.Refs == nil {
		return []*Group{e.Small}
	}
	return []*Group{e.Small, e.Large}
}

// HandMode is the exec mode an expert picks for hand-written pgx: pgx's
// default statement cache (512 statements per connection) while every
// statement text of a server fits in it, and QueryExecModeExec (Parse, Bind
// and Execute of the unnamed statement in one round trip) beyond, where
// the cache would thrash and cost an extra round trip per miss. The
// workload has 5 statements per schema.
func HandMode(shardsPerServer int) pgx.QueryExecMode {
	if 5*shardsPerServer <= 512 {
		return pgx.QueryExecModeCacheStatement
	}
	return pgx.QueryExecModeExec
}

// Setup starts two throwaway PostgreSQL servers (pgtest), creates the
// databases of both groups on each, migrates them with runtime.Migrate,
// loads size rows into each group and opens the generated and
// hand-written data layers. Everything is closed when tb ends.
//
// With smallOnly, group "large" is neither migrated nor loaded (its 4,096
// schemas take most of the setup time): for quick tests only.
func Setup(tb testing.TB, size Size, smallOnly bool) *Env {
	tb.Helper()
	ctx := context.Background()
	transport := os.Getenv(EnvTransport)
	switch transport {
	case "":
		transport = "unix"
	case "unix", "tcp":
	default:
		tb.Fatalf("%s=%q: want unix or tcp", EnvTransport, transport)
	}
	servers := pgtest.NewWith(tb, 2, pgtest.Options{UnixSocket: transport == "unix"})
	tb.Logf("PostgreSQL servers reached over %s", transport)
	if cpus := os.Getenv(EnvServerCPUs); cpus != "" {
		for _, s := range servers {
			if err := pinServer(s, cpus); err != nil {
				tb.Fatalf("%s: %v", EnvServerCPUs, err)
			}
		}
		tb.Logf("PostgreSQL servers pinned to CPUs %s", cpus)
	}
	env := &Env{Size: size, Servers: servers}
	cfg := runtime.Config{Groups: map[string][]runtime.ServerConfig{}, Pool: runtime.PoolConfig{MaxConns: MaxConns}}
	for _, gs := range benchdb.Spec.Groups {
		g := &Group{Name: gs.Name, Shards: gs.Shards, warm: map[string]bool{}}
		half := gs.Shards / len(servers)
		var hs []handpgx.Server
		for i, s := range servers {
			if err := s.CreateDatabase(ctx, gs.Name); err != nil {
				tb.Fatalf("%v", err)
			}
			u := s.URL(gs.Name)
			g.URLs = append(g.URLs, u)
			first, last := i*half, (i+1)*half-1
			cfg.Groups[gs.Name] = append(cfg.Groups[gs.Name], runtime.ServerConfig{Name: s.Name(), URL: u, Shards: fmt.Sprintf("%d-%d", first, last)})
			hs = append(hs, handpgx.Server{URL: u, First: first, Last: last})
		}
		g.Mode = HandMode(half)
		hand, err := handpgx.Open(ctx, gs.Name, gs.Shards, hs, MaxConns, g.Mode)
		if err != nil {
			tb.Fatalf("%v", err)
		}
		tb.Cleanup(hand.Close)
		g.Hand = hand
		switch gs.Name {
		case "small":
			env.Small = g
		case "large":
			env.Large = g
		}
	}
	if env.Small == nil || env.Large == nil {
		tb.Fatalf("benchdb.Spec has groups %v, want small and large", benchdb.Spec.Groups)
	}
	r, err := runtime.Open(ctx, cfg, benchdb.Spec)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(r.Close)
	env.Router = r
	start := time.Now()
	spec := benchdb.Spec
	if smallOnly {
		spec.Groups = []runtime.GroupSpec{}
		for _, gs := range benchdb.Spec.Groups {
			if gs.Name == env.Small.Name {
				spec.Groups = append(spec.Groups, gs)
			}
		}
	}
	if err := runtime.Migrate(ctx, r, spec, runtime.MigrateOptions{}); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	tb.Logf("migrated the schemas of %d groups on 2 servers in %v", len(spec.Groups), time.Since(start).Round(time.Millisecond))
	if env.DB, err = benchdb.New(r); err != nil {
		tb.Fatalf("%v", err)
	}
	for i, g := range []*Group{env.Small, env.Large} {
		if smallOnly && g != env.Small {
			continue
		}
		start := time.Now()
		if err := g.load(ctx, size, uint64(i)); err != nil {
			tb.Fatalf("loading group %s: %v", g.Name, err)
		}
		tb.Logf("loaded %d rows over %d users into group %s (%d shards) in %v", len(g.Refs), size.Users, g.Name, g.Shards, time.Since(start).Round(time.Millisecond))
	}
	return env
}

// EnvServerCPUs, when set (to a CPU list such as "1"), pins the
// PostgreSQL servers to those CPUs (taskset): the postmaster, and so every
// backend it forks afterwards. bench/run.sh sets it from BENCH_PLACE: the
// benchmark's CPU for "same", the other CPUs for "split", unset for
// "free" (BENCHMARKS.md, "Placement and transport").
const EnvServerCPUs = "SHARDGEN_BENCH_SERVER_CPUS"

// EnvTransport chooses how every variant reaches the servers: "unix" (the
// default), through their Unix-domain sockets, or "tcp", through
// 127.0.0.1. Both are local; the socket is the shorter path through the
// kernel, so more of each operation's time is the data layer's own, which
// is what the benchmark compares. BENCHMARKS.md gives figures for both.
const EnvTransport = "SHARDGEN_BENCH_TRANSPORT"

// pinServer sets the CPU affinity of a server's postmaster.
func pinServer(s *pgtest.Server, cpus string) error {
	if s.External() {
		return fmt.Errorf("cannot pin %s: not started by pgtest", s.Name())
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(), "postmaster.pid"))
	if err != nil {
		return err
	}
	pid, _, _ := strings.Cut(string(b), "\n")
	if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strings.TrimSpace(pid)).CombinedOutput(); err != nil {
		return fmt.Errorf("taskset: %v: %s", err, out)
	}
	return nil
}

// Body is the body of every loaded and inserted row: about 200 bytes, a
// short post.
var Body = strings.Repeat("All work and no play makes Jack a dull boy. ", 5)

// Created is the created_at of every inserted row (a constant, so that no
// variant spends time reading the clock).
var Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// load inserts size.RowsPerUser rows for every user, in the shard the
// placement gives it, with IDs minted by each shard's ID function, and
// records the users and rows in a fixed random order.
func (g *Group) load(ctx context.Context, size Size, seed uint64) error {
	perServer := make([]*pgx.Batch, len(g.URLs))
	for i := range perServer {
		perServer[i] = &pgx.Batch{}
	}
	half := g.Shards / len(g.URLs)
	for u := int64(1); u <= int64(size.Users); u++ {
		sh := runtime.ShardForInt64(u, g.Shards)
		schema := runtime.QuoteIdent(runtime.SchemaName(g.Name, sh))
		perServer[int(sh)/half].Queue(`INSERT INTO `+schema+`."items" ("user_id", "title", "body", "views", "created_at")
SELECT $1, 'item ' || i, $2, 0, $3::timestamptz - i * interval '1 minute' FROM generate_series(1, $4) AS i
RETURNING "id", "user_id"`, u, Body, Created, size.RowsPerUser)
		g.Users = append(g.Users, u)
	}
	for i, u := range g.URLs {
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			return err
		}
		err = func() error {
			defer conn.Close(ctx)
			br := conn.SendBatch(ctx, perServer[i])
			for range perServer[i].Len() {
				rows, err := br.Query()
				if err != nil {
					br.Close()
					return err
				}
				for rows.Next() {
					var r Ref
					if err := rows.Scan(&r.ID, &r.User); err != nil {
						rows.Close()
						br.Close()
						return err
					}
					g.Refs = append(g.Refs, r)
				}
				if err := rows.Err(); err != nil {
					br.Close()
					return err
				}
			}
			if err := br.Close(); err != nil {
				return err
			}
			// Fresh statistics, as a long-running database would have.
			_, err := conn.Exec(ctx, "ANALYZE")
			return err
		}()
		if err != nil {
			return fmt.Errorf("server %d: %w", i, err)
		}
	}
	if len(g.Refs) != size.Rows() {
		return fmt.Errorf("loaded %d rows, want %d", len(g.Refs), size.Rows())
	}
	rnd := rand.New(rand.NewPCG(42, seed))
	rnd.Shuffle(len(g.Users), func(i, j int) { g.Users[i], g.Users[j] = g.Users[j], g.Users[i] })
	rnd.Shuffle(len(g.Refs), func(i, j int) { g.Refs[i], g.Refs[j] = g.Refs[j], g.Refs[i] })
	return nil
}
