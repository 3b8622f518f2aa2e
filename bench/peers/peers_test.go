package peers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shardgen/shardgen/bench/peers/gormsharding"
	"github.com/shardgen/shardgen/bench/workload"
)

// gormOps sets up the GORM variant of group g: a database of its own on
// the first server, its sharded tables, the same users and as many rows
// per user as the other variants, and the operations over them; and, as
// a second variant on the same tables, its single writes with GORM's
// SkipDefaultTransaction (gormsharding.Store.SkipTx), which the plugin's
// README does not set.
func gormOps(tb testing.TB, env *workload.Env, g *workload.Group) (readme, skipTx workload.Ops, _ *gormsharding.Store) {
	tb.Helper()
	ctx := context.Background()
	srv := env.Servers[0]
	name := "gorm_" + g.Name
	if err := srv.CreateDatabase(ctx, name); err != nil {
		tb.Fatalf("%v", err)
	}
	s, err := gormsharding.Open(srv.DSN(name), g.Shards, workload.MaxConns)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(s.Close)
	if err := s.CreateTables(ctx); err != nil {
		tb.Fatalf("%v", err)
	}
	users := make([]int64, env.Size.Users)
	for i := range users {
		users[i] = int64(i + 1)
	}
	loaded, err := s.Load(ctx, srv.URL(name), users, env.Size.RowsPerUser, workload.Body, workload.Created)
	if err != nil {
		tb.Fatalf("loading GORM tables of %d shards: %v", g.Shards, err)
	}
	refs := make([]workload.Ref, len(loaded))
	for i, r := range loaded {
		refs[i] = workload.Ref{ID: r[0], User: r[1]}
	}
	rand.New(rand.NewPCG(7, uint64(g.Shards))).Shuffle(len(refs), func(i, j int) { refs[i], refs[j] = refs[j], refs[i] })

	ins := &gormsharding.Item{Title: "new", Body: workload.Body, CreatedAt: workload.Created}
	upd := &gormsharding.Item{Title: "updated", Body: workload.Body, CreatedAt: workload.Created}
	fresh := &gormsharding.Item{Title: "in tx", Body: workload.Body, CreatedAt: workload.Created}
	fast := s.SkipTx()
	skipTx = workload.Ops{
		Name: "gorm_skiptx",
		Refs: refs,
		InsertByKey: func(ctx context.Context, user int64) error {
			ins.UserID = user
			return fast.Insert(ctx, ins)
		},
		UpdateByID: func(ctx context.Context, ref workload.Ref) error {
			upd.ID, upd.UserID = ref.ID, ref.User
			upd.Views++
			return fast.Update(ctx, upd)
		},
	}
	return workload.Ops{
		Name: "gorm",
		Refs: refs,
		InsertByKey: func(ctx context.Context, user int64) error {
			ins.UserID = user
			return s.Insert(ctx, ins)
		},
		GetByID: func(ctx context.Context, ref workload.Ref) error {
			it, err := s.Get(ctx, ref.ID, ref.User)
			if err != nil {
				return err
			}
			if it.ID != ref.ID {
				return fmt.Errorf("got row %d, want %d", it.ID, ref.ID)
			}
			return nil
		},
		ListByKey: func(ctx context.Context, user int64) error {
			items, err := s.List(ctx, user, workload.PageSize)
			if err != nil {
				return err
			}
			if len(items) != workload.PageSize {
				return fmt.Errorf("got %d rows, want a full page of %d", len(items), workload.PageSize)
			}
			return nil
		},
		UpdateByID: func(ctx context.Context, ref workload.Ref) error {
			upd.ID, upd.UserID = ref.ID, ref.User
			upd.Views++
			return s.Update(ctx, upd)
		},
		Tx3: func(ctx context.Context, ref workload.Ref) error {
			return s.GetUpdateInsert(ctx, ref.ID, ref.User, fresh)
		},
		// gorm.io/sharding offers no fan-out: a query without the
		// sharding key fails with ErrMissingShardingKey.
	}, skipTx, s
}

// BenchmarkWorkload is the benchmark of issue 6: every operation at 16 and
// 4,096 logical shards with shardgen's generated repositories, the
// hand-written pgx floor (and its count without pipelining) and GORM with
// gorm.io/sharding, in one run; then the generated repositories against
// each of the other two in paired runs (workload.RunPaired), and the floor
// against GORM. With -short the data set is small.
func BenchmarkWorkload(b *testing.B) {
	size := workload.FullSize
	if testing.Short() {
		size = workload.SmokeSize
	}
	env := workload.Setup(b, size, false)
	for _, g := range env.Groups() {
		gorm, gormSkipTx, _ := gormOps(b, env, g)
		b.Run(fmt.Sprintf("shards=%d", g.Shards), func(b *testing.B) {
			gen := workload.Generated(env, g)
			workload.Run(b, g, gen, workload.HandPGX(g), gorm, gormSkipTx, workload.HandPGXSequential(g))
			// Paired against GORM too, though interleaving charges part of
			// the garbage collection of GORM's allocations to the
			// generated code's calls: that pairing errs against the
			// generated code.
			b.Run("paired", func(b *testing.B) {
				workload.RunPaired(b, g, gen, workload.HandPGX(g))
				workload.RunPaired(b, g, gen, gorm)
				// The floor against GORM, for what the 1.5x bar asks of
				// any pgx data layer on this machine.
				workload.RunPaired(b, g, workload.HandPGX(g), gorm)
			})
		})
	}
}

// TestGorm checks the GORM variant on a small data set at both shard
// counts: every operation works through the plugin, rows land in the
// table of their user, and the writes are all there.
func TestGorm(t *testing.T) {
	env := workload.Setup(t, workload.SmokeSize, testing.Short())
	ctx := context.Background()
	for _, g := range env.Groups() {
		t.Run(fmt.Sprintf("shards=%d", g.Shards), func(t *testing.T) {
			ops, skipTx, s := gormOps(t, env, g)
			for i, ref := range ops.Refs[:30] {
				if err := ops.GetByID(ctx, ref); err != nil {
					t.Fatalf("get %v: %v", ref, err)
				}
				if err := ops.UpdateByID(ctx, ref); err != nil {
					t.Fatalf("update %v: %v", ref, err)
				}
				if err := ops.ListByKey(ctx, g.Users[i%len(g.Users)]); err != nil {
					t.Fatalf("list: %v", err)
				}
				if err := ops.Tx3(ctx, ref); err != nil {
					t.Fatalf("tx %v: %v", ref, err)
				}
			}
			for _, u := range g.Users {
				if err := ops.InsertByKey(ctx, u); err != nil {
					t.Fatalf("insert for %d: %v", u, err)
				}
				if err := skipTx.InsertByKey(ctx, u); err != nil {
					t.Fatalf("insert without GORM's transaction for %d: %v", u, err)
				}
			}
			if err := skipTx.UpdateByID(ctx, ops.Refs[1]); err != nil {
				t.Fatalf("update without GORM's transaction: %v", err)
			}
			n, err := s.Count(ctx)
			if want := int64(env.Size.Rows() + 30 + 2*len(g.Users)); err != nil || n != want {
				t.Fatalf("count = %d, %v; want %d", n, err, want)
			}
			// Every row is in the table of its user.
			for i := range g.Shards {
				var stray int64
				if err := s.DB.Raw(fmt.Sprintf("SELECT count(*) FROM %s WHERE user_id %% %d <> %d /* nosharding */", s.Table(i), g.Shards, i)).Scan(&stray).Error; err != nil || stray != 0 {
					t.Fatalf("%s: %d rows of other tables, %v", s.Table(i), stray, err)
				}
			}
			// The update went through: the first row has views > 0.
			it, err := s.Get(ctx, ops.Refs[0].ID, ops.Refs[0].User)
			if err != nil || it.Views == 0 {
				t.Fatalf("row %v after update: %+v, %v", ops.Refs[0], it, err)
			}
		})
	}
}
