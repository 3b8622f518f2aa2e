package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// FanOut runs q on every logical shard of the group and calls each with the
// shard and its rows. Going to every shard is never implicit in shardgen:
// this is the one place that does it, and generated code names its callers
// so (CountAllShards, ...).
//
// Cost: one network round trip per physical server, not per logical shard.
// The shards of each server are sent as one pipeline on one pooled
// connection (Parse/Bind/Describe/Execute per shard, all flushed at once,
// results read in order), and servers run in parallel, so a fan-out holds
// exactly one connection per server: concurrency is bounded by the number
// of servers, and never exceeds any pool's MaxConns.
//
// Every shard's statement is followed by its own Sync, so it runs in its own
// implicit transaction: one shard's error (a missing table, a statement
// timeout) does not abort the statements of the other shards on the same
// server, as it would in a pgx.Batch, which shares one implicit transaction.
//
// each is called once per shard that answered, in shard order within a
// server, and never concurrently (merge into plain variables without
// locking). It must not keep rows after it returns; FanOut closes them.
// An error from each counts as that shard's failure.
//
// When any shard fails (its server down, its statement failing, each
// returning an error, ctx ending) FanOut still finishes the other shards and
// then returns a *FanOutError listing every failed shard in order, each a
// *ShardError naming group, shard and server. Whatever each merged is then
// partial: callers must not present it as complete. nil means every shard
// answered and each accepted every result.
func (g *Group) FanOut(ctx context.Context, q *Query, args []any, each func(Shard, pgx.Rows) error) error {
	if q == nil || q.group != g {
		owner := "nothing"
		if q != nil {
			owner = q.owner()
		}
		return &ShardError{Group: g.name, Shard: -1, Err: fmt.Errorf("%w: fan-out over group %s with a query prepared for %s", ErrWrongShard, g.name, owner)}
	}
	if q.err != nil {
		return &ShardError{Group: g.name, Shard: -1, Err: q.err}
	}
	plans := g.fanOutPlans(nil)
	var (
		mu     sync.Mutex // serialises each and guards failed
		failed []*ShardError
		wg     sync.WaitGroup
	)
	call := func(s Shard, rows pgx.Rows) error {
		mu.Lock()
		defer mu.Unlock()
		return each(s, rows)
	}
	for _, p := range plans {
		wg.Go(func() {
			if errs := g.fanOutServer(ctx, p, q, args, call); len(errs) > 0 {
				mu.Lock()
				failed = append(failed, errs...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failed) == 0 {
		return nil
	}
	slices.SortFunc(failed, func(a, b *ShardError) int { return int(a.Shard - b.Shard) })
	return &FanOutError{Group: g.name, Failed: failed}
}

// fanOutPlan is the shards of one connection pool. Servers of the group
// with identical connection strings share a pool and so one pipeline.
type fanOutPlan struct {
	pool   *serverPool
	shards []Shard
}

// fanOutPlans groups the shards (all of them when only is nil) by pool, in
// order of first appearance, shards ascending.
func (g *Group) fanOutPlans(only []Shard) []fanOutPlan {
	var plans []fanOutPlan
	index := map[*serverPool]int{}
	add := func(s Shard) {
		sp := g.byShard[s].pool
		i, ok := index[sp]
		if !ok {
			i = len(plans)
			index[sp] = i
			plans = append(plans, fanOutPlan{pool: sp})
		}
		plans[i].shards = append(plans[i].shards, s)
	}
	if only == nil {
		for s := range g.nShards {
			add(Shard(s))
		}
	} else {
		for _, s := range only {
			add(s)
		}
	}
	return plans
}

// fanOutServer runs q on p's shards as one pipeline on one connection and
// returns the shards that failed.
func (g *Group) fanOutServer(ctx context.Context, p fanOutPlan, q *Query, args []any, each func(Shard, pgx.Rows) error) []*ShardError {
	sp := p.pool
	failAll := func(from int, err error) []*ShardError {
		errs := make([]*ShardError, 0, len(p.shards)-from)
		for _, s := range p.shards[from:] {
			t := g.At(s)
			errs = append(errs, t.fail(err))
		}
		return errs
	}
	c, err := sp.acquire(ctx)
	if err != nil {
		return failAll(0, err)
	}
	defer sp.release(c)
	conn := c.Conn()

	// Arguments are the same on every shard: encode them once, in the text
	// format with types left to the server, as QueryExecModeExec does.
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(conn.TypeMap(), nil, args); err != nil {
		return failAll(0, fmt.Errorf("encode fan-out arguments: %w", err))
	}

	pipe := conn.PgConn().StartPipeline(ctx)
	for _, s := range p.shards {
		pipe.SendQueryParams(q.text(s), eqb.ParamValues, nil, eqb.ParamFormats, eqb.ResultFormats)
		pipe.SendPipelineSync()
	}
	if err := pipe.Flush(); err != nil {
		_ = pipe.Close() // already closed by the failed Flush; its error is err
		return failAll(0, sp.classify(ctx, conn, err))
	}

	var errs []*ShardError
	for i, s := range p.shards {
		t := g.At(s)
		res, err := pipe.GetResults()
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr):
			// The statement failed before it produced rows (e.g. Parse:
			// relation does not exist). Its Sync follows.
			errs = append(errs, t.fail(sp.classify(ctx, conn, err)))
		case err != nil:
			// The connection is gone: this shard and every later one of
			// this server failed.
			_ = pipe.Close()
			return append(errs, failAll(i, sp.classify(ctx, conn, err))...)
		default:
			rr, ok := res.(*pgconn.ResultReader)
			if !ok {
				_ = pipe.Close()
				return append(errs, failAll(i, fmt.Errorf("fan-out pipeline out of step: got %T, want a result", res))...)
			}
			rows := pgx.RowsFromResultReader(conn.TypeMap(), rr)
			cbErr := each(s, rows)
			rows.Close()
			if rerr := rows.Err(); rerr != nil {
				if !errors.As(rerr, &pgErr) {
					_ = pipe.Close()
					return append(errs, failAll(i, sp.classify(ctx, conn, rerr))...)
				}
				errs = append(errs, t.fail(sp.classify(ctx, conn, rerr)))
			} else if cbErr != nil {
				errs = append(errs, t.fail(cbErr))
			}
		}
		res, err = pipe.GetResults()
		if _, ok := res.(*pgconn.PipelineSync); !ok || err != nil {
			if err == nil {
				err = fmt.Errorf("fan-out pipeline out of step: got %T, want the Sync of shard %d", res, s)
			}
			_ = pipe.Close()
			return append(errs, failAll(i+1, sp.classify(ctx, conn, err))...)
		}
	}
	// Every shard has its result; a failing Close only means the connection
	// is unusable, and pgxpool discards closed connections on release.
	_ = pipe.Close()
	return errs
}
