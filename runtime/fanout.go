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
// connection (a statement per shard, all flushed at once, results read in
// order), and servers run in parallel, so a fan-out holds exactly one
// connection per server: concurrency is bounded by the number of servers,
// and never exceeds any pool's MaxConns. While a server's statement texts
// fit the connections' statement cache (exec mode "auto") the per-shard
// statements are prepared once per connection, as pgx would; beyond that
// they are unnamed statements. Measured on two local servers: 16 shards
// cost about what a hand-written pgx.Batch per server costs; 4,096 shards
// about 100 ms, against about 600 ms for one round trip per shard.
//
// Failures stay per shard: statements are grouped fanOutSyncEvery to an
// implicit transaction, and when one fails, the ones PostgreSQL skipped
// after it are sent again, each on its own, in a second round trip. So one
// shard's error (a missing table, a statement timeout) never fails another
// shard, as it would in a pgx.Batch, where one implicit transaction spans
// the server's whole batch.
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
	plans := g.fanOutPlans()
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

// fanOutPlans groups the group's shards by pool, in order of first
// appearance, shards ascending.
func (g *Group) fanOutPlans() []fanOutPlan {
	var plans []fanOutPlan
	index := map[*serverPool]int{}
	table := g.table.Load()
	for s := range Shard(g.nShards) {
		sp := table.byShard[s].pool
		i, ok := index[sp]
		if !ok {
			i = len(plans)
			index[sp] = i
			plans = append(plans, fanOutPlan{pool: sp})
		}
		plans[i].shards = append(plans[i].shards, s)
	}
	return plans
}

// fanOutSyncEvery is how many shard statements share one Sync, i.e. one
// implicit transaction. A Sync per statement isolates every failure but
// costs a transaction and a flushed ReadyForQuery each (measured: +25 µs per
// shard, doubling a 2,048-shard count); one Sync per server, as pgx.Batch
// sends, lets one failure abort every later shard and holds locks on every
// shard's tables until the end, which can exhaust a default-configured
// server's lock table (max_locks_per_transaction). 32 statements per
// transaction keep both costs small; a failure skips at most the rest of
// its group, which is then retried with a Sync each.
const fanOutSyncEvery = 32

// fanOutServer runs q on p's shards as pipelines on one connection and
// returns the shards that failed. The first round sends every shard in one
// round trip, a Sync after every fanOutSyncEvery statements. PostgreSQL
// skips the rest of a group after an error, so the shards skipped that way
// are sent again in a second round trip, each with its own Sync: at most two
// round trips, and every shard either answers or fails for its own reason.
func (g *Group) fanOutServer(ctx context.Context, p fanOutPlan, q *Query, args []any, each func(Shard, pgx.Rows) error) []*ShardError {
	sp := p.pool
	c, err := sp.acquire(ctx)
	if err != nil {
		return g.failShards(p.shards, err)
	}
	defer sp.release(c)
	conn := c.Conn()

	shards := p.shards
	var errs []*ShardError
	// Statements: while the server's distinct statement texts fit its
	// connections' statement cache (exec mode "auto", see the package
	// documentation), each shard's text is a prepared statement of the
	// connection, as pgx's default mode would make it, so the server skips
	// parsing and planning; beyond that, unnamed statements (as
	// QueryExecModeExec), whose cost does not depend on the shard count.
	for _, s := range shards {
		q.text(s) // render (and count) every text before deciding
	}
	var sds map[Shard]*pgconn.StatementDescription
	if sp.auto && sp.texts.Load() <= sp.cacheCap {
		sds = make(map[Shard]*pgconn.StatementDescription, len(shards))
		var ok []Shard
		for i, s := range shards {
			// Prepare with name == sql is what pgx does for its own
			// cache and is a map lookup once the connection has it; the
			// first fan-out on a connection pays a round trip per shard.
			sd, err := conn.Prepare(ctx, q.text(s), q.text(s))
			var pgErr *pgconn.PgError
			switch {
			case err == nil:
				sds[s] = sd
				ok = append(ok, s)
			case errors.As(err, &pgErr):
				t := g.At(s)
				errs = append(errs, t.fail(sp.classify(ctx, conn, err)))
			default:
				return append(errs, g.failShards(shards[i:], sp.classify(ctx, conn, err))...)
			}
		}
		shards = ok
		if len(shards) == 0 {
			return errs
		}
	}

	// Arguments are the same on every shard: encode them once, for the
	// prepared statements' parameter types, or in the text format with the
	// types left to the server, as QueryExecModeExec does.
	var eqb pgx.ExtendedQueryBuilder
	var sd0 *pgconn.StatementDescription
	if sds != nil {
		sd0 = sds[shards[0]]
	}
	if err := eqb.Build(conn.TypeMap(), sd0, args); err != nil {
		return append(errs, g.failShards(shards, fmt.Errorf("encode fan-out arguments: %w", err))...)
	}
	every := fanOutSyncEvery
	for len(shards) > 0 {
		skipped, failed, err := g.fanOutRound(ctx, sp, conn, shards, every, q, sds, &eqb, each)
		errs = append(errs, failed...)
		if err != nil {
			// The connection is gone: skipped holds every shard without
			// an answer.
			return append(errs, g.failShards(skipped, err)...)
		}
		shards, every = skipped, 1
	}
	// A prepared statement the server can no longer run as prepared (its
	// result type changed under DDL) is dropped so the next fan-out on this
	// connection prepares it again.
	for _, e := range errs {
		var pgErr *pgconn.PgError
		if sds[e.Shard] != nil && errors.As(e, &pgErr) && (pgErr.Code == "0A000" || pgErr.Code == "26000") {
			if err := conn.Deallocate(ctx, q.text(e.Shard)); err != nil {
				break // the connection is unusable; pgxpool drops it
			}
		}
	}
	return errs
}

// fanOutRound sends one pipeline of shards with a Sync after every `every`
// statements and reads it. It returns the shards PostgreSQL skipped
// because an earlier statement of their group failed, the shards that
// failed, and a non-nil error when the connection broke (then skipped also
// holds every shard not yet answered).
func (g *Group) fanOutRound(ctx context.Context, sp *serverPool, conn *pgx.Conn, shards []Shard, every int, q *Query, sds map[Shard]*pgconn.StatementDescription, eqb *pgx.ExtendedQueryBuilder, each func(Shard, pgx.Rows) error) (skipped []Shard, failed []*ShardError, broken error) {
	pipe := conn.PgConn().StartPipeline(ctx)
	for i, s := range shards {
		if sd := sds[s]; sd != nil {
			pipe.SendQueryStatement(sd, eqb.ParamValues, eqb.ParamFormats, eqb.ResultFormats)
		} else {
			pipe.SendQueryParams(q.text(s), eqb.ParamValues, nil, eqb.ParamFormats, eqb.ResultFormats)
		}
		if (i+1)%every == 0 || i == len(shards)-1 {
			pipe.SendPipelineSync()
		}
	}
	if err := pipe.Flush(); err != nil {
		_ = pipe.Close() // already closed by the failed Flush
		return shards, nil, sp.classify(ctx, conn, err)
	}
	broke := func(from int, err error) ([]Shard, []*ShardError, error) {
		_ = pipe.Close()
		return append(skipped, shards[from:]...), failed, sp.classify(ctx, conn, err)
	}
	for start := 0; start < len(shards); start += every {
		group := shards[start:min(start+every, len(shards))]
		for i, s := range group {
			err := fanOutResult(conn, pipe, s, each)
			var pgErr *pgconn.PgError
			if err == nil {
				continue
			}
			if !errors.As(err, &pgErr) && !errors.Is(err, errCallback) {
				return broke(start+i, err)
			}
			t := g.At(s)
			if errors.As(err, &pgErr) {
				failed = append(failed, t.fail(sp.classify(ctx, conn, err)))
			} else {
				failed = append(failed, t.fail(unwrapCallback(err)))
			}
			if errors.As(err, &pgErr) {
				// The server skips to the group's Sync.
				skipped = append(skipped, group[i+1:]...)
				break
			}
		}
		res, err := pipe.GetResults()
		if _, ok := res.(*pgconn.PipelineSync); !ok || err != nil {
			if err == nil {
				err = fmt.Errorf("fan-out pipeline out of step: got %T, want a Sync", res)
			}
			return broke(min(start+every, len(shards)), err)
		}
	}
	// Every shard has its answer; a failing Close only means the connection
	// is unusable, and pgxpool discards closed connections on release.
	_ = pipe.Close()
	return skipped, failed, nil
}

// errCallback marks an error returned by the caller's each function: the
// shard failed, but the connection and the pipeline are fine.
var errCallback = errors.New("fan-out callback failed")

type callbackError struct{ err error }

func (e callbackError) Error() string   { return e.err.Error() }
func (e callbackError) Unwrap() []error { return []error{errCallback, e.err} }

func unwrapCallback(err error) error {
	if ce, ok := err.(callbackError); ok {
		return ce.err
	}
	return err
}

// fanOutResult reads shard s's result from the pipeline and hands it to
// each. A *pgconn.PgError means the statement failed on the server; a
// callbackError means each refused the rows; any other error means the
// connection broke.
func fanOutResult(conn *pgx.Conn, pipe *pgconn.Pipeline, s Shard, each func(Shard, pgx.Rows) error) error {
	res, err := pipe.GetResults()
	if err != nil {
		return err
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		return fmt.Errorf("fan-out pipeline out of step: got %T, want the result of shard %d", res, s)
	}
	rows := pgx.RowsFromResultReader(conn.TypeMap(), rr)
	cbErr := each(s, rows)
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if cbErr != nil {
		return callbackError{cbErr}
	}
	return nil
}

// failShards returns a *ShardError with err for each shard.
func (g *Group) failShards(shards []Shard, err error) []*ShardError {
	errs := make([]*ShardError, len(shards))
	for i, s := range shards {
		t := g.At(s)
		errs[i] = t.fail(err)
	}
	return errs
}
