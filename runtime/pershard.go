package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// ShardCall is one statement of PerShard: the shard it runs on and its
// arguments.
type ShardCall struct {
	Shard Shard
	Args  []any
}

// PerShard runs q once for each call, on the call's shard with the call's
// arguments, and calls each with the shard and its rows. It is what
// generated GetMany methods use: the calls of one server are sent as one
// pgx.Batch on one pooled connection (one network round trip), and servers
// run in parallel, so it holds at most one connection per server.
//
// each is called once per call that answered, never concurrently; it must
// not keep rows after it returns. When a call fails (a shard outside the
// group, its server down, its statement failing, each returning an error)
// PerShard still finishes the other servers and returns a *FanOutError
// listing every failed shard. A batch runs in one implicit transaction, so a
// failing statement also fails the statements after it on that server;
// they are listed too. Reads, for which failures are rare, are what it is for.
func (g *Group) PerShard(ctx context.Context, q *Query, calls []ShardCall, each func(Shard, pgx.Rows) error) error {
	if q == nil || q.group != g {
		owner := "nothing"
		if q != nil {
			owner = q.owner()
		}
		return &ShardError{Group: g.name, Shard: -1, Err: fmt.Errorf("%w: per-shard calls on group %s with a query prepared for %s", ErrWrongShard, g.name, owner)}
	}
	if q.err != nil {
		return &ShardError{Group: g.name, Shard: -1, Err: q.err}
	}
	var (
		mu     sync.Mutex // serialises each and guards failed
		failed []*ShardError
		byPool = map[*serverPool][]ShardCall{}
		order  []*serverPool
	)
	table := g.table.Load() // one placement for the whole call
	for _, c := range calls {
		if c.Shard < 0 || int(c.Shard) >= g.nShards {
			t := g.At(c.Shard)
			failed = append(failed, t.fail(fmt.Errorf("%w: shard %d is outside group %s (0-%d)", ErrWrongShard, c.Shard, g.name, g.nShards-1)))
			continue
		}
		sp := table.byShard[c.Shard].pool
		if _, ok := byPool[sp]; !ok {
			order = append(order, sp)
		}
		byPool[sp] = append(byPool[sp], c)
	}
	var wg sync.WaitGroup
	for _, sp := range order {
		wg.Go(func() {
			errs := g.perShardServer(ctx, sp, q, byPool[sp], func(s Shard, rows pgx.Rows) error {
				mu.Lock()
				defer mu.Unlock()
				return each(s, rows)
			})
			if len(errs) > 0 {
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
	slices.SortStableFunc(failed, func(a, b *ShardError) int { return int(a.Shard - b.Shard) })
	return &FanOutError{Group: g.name, Failed: failed}
}

// perShardServer sends the calls of one pool as one batch and returns the
// calls that failed.
func (g *Group) perShardServer(ctx context.Context, sp *serverPool, q *Query, calls []ShardCall, each func(Shard, pgx.Rows) error) []*ShardError {
	shards := make([]Shard, len(calls))
	for i, c := range calls {
		shards[i] = c.Shard
	}
	c, err := sp.acquire(ctx)
	if err != nil {
		return g.failShards(shards, err)
	}
	defer sp.release(c)
	conn := c.Conn()
	b := &pgx.Batch{}
	for _, call := range calls {
		b.Queue(q.text(call.Shard), call.Args...)
	}
	br := conn.SendBatch(ctx, b)
	var errs []*ShardError
	for _, call := range calls {
		t := g.At(call.Shard)
		rows, err := br.Query()
		if err == nil {
			err = each(call.Shard, rows)
			rows.Close()
			if rerr := rows.Err(); err == nil {
				err = rerr
			}
		}
		if err != nil {
			errs = append(errs, t.fail(sp.classify(ctx, conn, err)))
		}
	}
	if err := br.Close(); err != nil && len(errs) == 0 {
		errs = g.failShards(shards, sp.classify(ctx, conn, err))
	}
	return errs
}

// ManyError is the error of a generated GetMany that could not look up
// every ID: IDs that cannot belong to the group (an ID naming a shard beyond
// the group's count, or not positive), and the shards whose statements
// failed. The rows of every other ID were still read and returned.
// errors.Is(err, ErrNotFound) holds when any ID was malformed; errors.As
// finds the *FanOutError of the failed shards.
type ManyError struct {
	Group string
	// Malformed are the IDs that cannot belong to the group, in the order
	// asked.
	Malformed []int64
	// Failed lists the failed shards; nil when none failed.
	Failed *FanOutError
}

// Error names the malformed IDs and summarises the failed shards.
func (e *ManyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "get many of group %s:", e.Group)
	if len(e.Malformed) > 0 {
		b.WriteString(" IDs ")
		for i, id := range e.Malformed {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(strconv.FormatInt(id, 10))
		}
		b.WriteString(" cannot belong to the group")
	}
	if e.Failed != nil {
		if len(e.Malformed) > 0 {
			b.WriteString(";")
		}
		b.WriteString(" " + e.Failed.Error())
	}
	return b.String()
}

// Unwrap returns ErrNotFound when an ID was malformed, and the fan-out
// error of the failed shards.
func (e *ManyError) Unwrap() []error {
	var out []error
	if len(e.Malformed) > 0 {
		out = append(out, ErrNotFound)
	}
	if e.Failed != nil {
		out = append(out, e.Failed)
	}
	return out
}

// GetMany runs q, a statement whose one parameter is an = ANY($1) list of
// IDs, on every shard that ids name, with that shard's IDs: the shards of one
// server as one pipelined batch, servers in parallel (PerShard). each reads
// the rows of one shard. It is the whole of a generated GetMany but the scan
// and the order of the result. IDs that cannot belong to the group and
// failed shards are reported as a *ManyError (the other shards are still
// read); any other error is returned as err.
func (g *Group) GetMany(ctx context.Context, q *Query, ids []int64, each func(pgx.Rows) error) (*ManyError, error) {
	byShard := map[Shard][]int64{}
	var shards []Shard
	var malformed []int64
	for _, id := range ids {
		shard, err := g.ShardOfID(id)
		if err != nil {
			malformed = append(malformed, id)
			continue
		}
		if _, ok := byShard[shard]; !ok {
			shards = append(shards, shard)
		}
		byShard[shard] = append(byShard[shard], id)
	}
	var failed *FanOutError
	if len(shards) > 0 {
		calls := make([]ShardCall, len(shards))
		for i, s := range shards {
			calls[i] = ShardCall{Shard: s, Args: []any{byShard[s]}}
		}
		err := g.PerShard(ctx, q, calls, func(_ Shard, rows pgx.Rows) error { return each(rows) })
		if err != nil && !errors.As(err, &failed) {
			return nil, err
		}
	}
	if len(malformed) > 0 || failed != nil {
		return &ManyError{Group: g.name, Malformed: malformed, Failed: failed}, nil
	}
	return nil, nil
}
