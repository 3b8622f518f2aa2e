package workload

import (
	"context"
	"fmt"

	"github.com/shardgen/shardgen/bench/benchdb"
	"github.com/shardgen/shardgen/bench/handpgx"
	"github.com/shardgen/shardgen/runtime"
)

// Ops is one variant: one data layer's implementation of the workload's
// operations on one group. A nil operation is one the variant does not
// offer; it is left out of the run.
//
// Every implementation checks what it gets back (the row asked for, a
// full page, a plausible count) so that a variant that silently does less
// work fails instead of looking fast.
type Ops struct {
	// Name names the variant in benchmark names ("generated", "handpgx", ...).
	Name string
	// Refs are the rows GetByID, UpdateByID and Tx3 pick from: the group's
	// rows, or the variant's own when it stores them elsewhere.
	Refs []Ref
	// InsertByKey inserts a row for user, its ID minted in the shard.
	InsertByKey func(ctx context.Context, user int64) error
	// GetByID reads the row ref.ID (found by the ID alone where the
	// variant can).
	GetByID func(ctx context.Context, ref Ref) error
	// ListByKey reads the latest PageSize rows of user.
	ListByKey func(ctx context.Context, user int64) error
	// UpdateByID writes every column but the ID and key of row ref.ID.
	UpdateByID func(ctx context.Context, ref Ref) error
	// Tx3 runs a transaction of three statements on the shard of ref: read
	// the row, write it back with one more view, insert a row for its user.
	Tx3 func(ctx context.Context, ref Ref) error
	// CountAllShards counts the rows of every shard.
	CountAllShards func(ctx context.Context) (int64, error)
}

func checkGot(id, want int64) error {
	if id != want {
		return fmt.Errorf("got row %d, want %d", id, want)
	}
	return nil
}

func checkPage(n int) error {
	if n != PageSize {
		return fmt.Errorf("got %d rows, want a full page of %d", n, PageSize)
	}
	return nil
}

// Generated is shardgen's generated repositories (package benchdb) on g.
func Generated(env *Env, g *Group) Ops {
	page := runtime.Page{Limit: PageSize}
	ops := Ops{Name: "generated", Refs: g.Refs}
	switch g {
	case env.Small:
		repo := env.DB.SmallItems
		ins := &benchdb.SmallItem{Title: "new", Body: Body, Created: Created}
		upd := &benchdb.SmallItem{Title: "updated", Body: Body, Created: Created}
		fresh := &benchdb.SmallItem{Title: "in tx", Body: Body, Created: Created}
		ops.InsertByKey = func(ctx context.Context, user int64) error {
			ins.UserID = user
			_, err := repo.Insert(ctx, ins)
			return err
		}
		ops.GetByID = func(ctx context.Context, ref Ref) error {
			row, err := repo.Get(ctx, benchdb.SmallItemID(ref.ID))
			if err != nil {
				return err
			}
			return checkGot(row.ID, ref.ID)
		}
		ops.ListByKey = func(ctx context.Context, user int64) error {
			rows, err := repo.List(ctx, benchdb.SmallKey(user), page)
			if err != nil {
				return err
			}
			return checkPage(len(rows))
		}
		ops.UpdateByID = func(ctx context.Context, ref Ref) error {
			upd.ID, upd.UserID = ref.ID, ref.User
			upd.Views++
			return repo.Update(ctx, upd)
		}
		ops.Tx3 = func(ctx context.Context, ref Ref) error {
			return env.DB.InSmallShard(ctx, benchdb.SmallKey(ref.User), func(tx *benchdb.SmallTx) error {
				items := tx.SmallItems()
				row, err := items.Get(ctx, benchdb.SmallItemID(ref.ID))
				if err != nil {
					return err
				}
				row.Views++
				if err := items.Update(ctx, row); err != nil {
					return err
				}
				fresh.UserID = ref.User
				_, err = items.Insert(ctx, fresh)
				return err
			})
		}
		ops.CountAllShards = repo.CountAllShards
	case env.Large:
		repo := env.DB.LargeItems
		ins := &benchdb.LargeItem{Title: "new", Body: Body, Created: Created}
		upd := &benchdb.LargeItem{Title: "updated", Body: Body, Created: Created}
		fresh := &benchdb.LargeItem{Title: "in tx", Body: Body, Created: Created}
		ops.InsertByKey = func(ctx context.Context, user int64) error {
			ins.UserID = user
			_, err := repo.Insert(ctx, ins)
			return err
		}
		ops.GetByID = func(ctx context.Context, ref Ref) error {
			row, err := repo.Get(ctx, benchdb.LargeItemID(ref.ID))
			if err != nil {
				return err
			}
			return checkGot(row.ID, ref.ID)
		}
		ops.ListByKey = func(ctx context.Context, user int64) error {
			rows, err := repo.List(ctx, benchdb.LargeKey(user), page)
			if err != nil {
				return err
			}
			return checkPage(len(rows))
		}
		ops.UpdateByID = func(ctx context.Context, ref Ref) error {
			upd.ID, upd.UserID = ref.ID, ref.User
			upd.Views++
			return repo.Update(ctx, upd)
		}
		ops.Tx3 = func(ctx context.Context, ref Ref) error {
			return env.DB.InLargeShard(ctx, benchdb.LargeKey(ref.User), func(tx *benchdb.LargeTx) error {
				items := tx.LargeItems()
				row, err := items.Get(ctx, benchdb.LargeItemID(ref.ID))
				if err != nil {
					return err
				}
				row.Views++
				if err := items.Update(ctx, row); err != nil {
					return err
				}
				fresh.UserID = ref.User
				_, err = items.Insert(ctx, fresh)
				return err
			})
		}
		ops.CountAllShards = repo.CountAllShards
	default:
		panic("workload.Generated: group not of this environment")
	}
	return ops
}

// HandPGX is the hand-written pgx floor (package handpgx) on g; its count
// is one pipelined batch per server, servers in parallel.
func HandPGX(g *Group) Ops {
	s := g.Hand
	ins := &handpgx.Item{Title: "new", Body: Body, Created: Created}
	upd := &handpgx.Item{Title: "updated", Body: Body, Created: Created}
	fresh := &handpgx.Item{Title: "in tx", Body: Body, Created: Created}
	return Ops{
		Name: "handpgx",
		Refs: g.Refs,
		InsertByKey: func(ctx context.Context, user int64) error {
			ins.UserID = user
			return s.Insert(ctx, ins)
		},
		GetByID: func(ctx context.Context, ref Ref) error {
			it, err := s.Get(ctx, ref.ID)
			if err != nil {
				return err
			}
			return checkGot(it.ID, ref.ID)
		},
		ListByKey: func(ctx context.Context, user int64) error {
			items, err := s.List(ctx, user, PageSize)
			if err != nil {
				return err
			}
			return checkPage(len(items))
		},
		UpdateByID: func(ctx context.Context, ref Ref) error {
			upd.ID, upd.UserID = ref.ID, ref.User
			upd.Views++
			return s.Update(ctx, upd)
		},
		Tx3: func(ctx context.Context, ref Ref) error {
			fresh.UserID = ref.User
			return s.GetUpdateInsert(ctx, ref.ID, fresh)
		},
		CountAllShards: s.CountPipelined,
	}
}

// HandPGXSequential offers only the count, done by hand with one round
// trip per logical shard: the fan-out without pipelining.
func HandPGXSequential(g *Group) Ops {
	return Ops{Name: "sequential", CountAllShards: g.Hand.CountSequential}
}
