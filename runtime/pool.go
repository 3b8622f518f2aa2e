package runtime

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// serverPool is the bounded pool of one distinct connection string.
//
// pgxpool waits for a free connection without a bound of its own; bounding
// each wait with context.WithTimeout would cost several allocations on every
// operation. Instead sem, a counting semaphore of MaxConns slots, is taken
// without blocking on the fast path (no allocation), and only when the pool
// is saturated does the slow path start a timer. Holding a slot guarantees
// pgxpool.Acquire never waits for another user's connection: it either
// hands out an idle one or dials, and dialling is bounded by
// ConnectTimeout (<= AcquireTimeout).
type serverPool struct {
	pool           *pgxpool.Pool
	sem            chan struct{}
	acquireTimeout time.Duration
	where          string
	secret         string // the password, only to scrub it from driver errors

	// Exec mode "auto" (see the package documentation): connections default
	// to pgx's statement cache; once texts, the number of distinct statement
	// texts rendered for this server, exceeds cacheCap, calls pass
	// QueryExecModeExec instead.
	auto     bool
	cacheCap int64
	texts    atomic.Int64

	// chunks holds *objChunk: see newRow.
	chunks sync.Pool
}

func newServerPool(ctx context.Context, url string, pc PoolConfig) (*serverPool, error) {
	cfg, err := parseConn(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = pc.MaxConns
	cfg.MinConns = pc.MinConns
	cfg.MaxConnLifetime = pc.MaxConnLifetime
	cfg.MaxConnIdleTime = pc.MaxConnIdleTime
	cc := cfg.ConnConfig
	cc.ConnectTimeout = pc.ConnectTimeout
	sp := &serverPool{
		sem:            make(chan struct{}, pc.MaxConns),
		acquireTimeout: pc.AcquireTimeout,
		where:          describeConn(cfg),
		secret:         cc.Password,
	}
	mode := pc.QueryExecMode
	if mode == 0 {
		// auto; a statement_cache_capacity=0 in the connection string
		// disables the cache, leaving exec.
		sp.cacheCap = int64(cc.StatementCacheCapacity)
		if sp.cacheCap > 0 {
			sp.auto = true
			mode = pgx.QueryExecModeCacheStatement
		} else {
			mode = pgx.QueryExecModeExec
		}
	}
	cc.DefaultQueryExecMode = mode
	switch mode {
	case pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeDescribeExec:
		// No per-connection cache is used; don't allocate one per connection.
		cc.StatementCacheCapacity = 0
		cc.DescriptionCacheCapacity = 0
	}
	// NewWithConfig does not connect (MinConns connections are opened in the
	// background), so a server that is down does not fail Open.
	sp.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot create pool for %s: %s", sp.where, scrub(err.Error(), sp.secret))
	}
	return sp, nil
}

// args returns the statement arguments, prefixed with QueryExecModeExec
// when auto mode has outgrown the statement cache. prefixed reports whether
// a new slice was made; the caller clears it once pgx is done with it.
func (sp *serverPool) args(args []any) (a []any, prefixed bool) {
	if !sp.auto || sp.texts.Load() <= sp.cacheCap {
		return args, false
	}
	n := len(args) + 1
	if n > maxChunkArgs {
		a = make([]any, n)
	} else {
		ch := sp.chunk()
		if len(ch.args) < n {
			ch.args = make([]any, argsChunkLen)
		}
		a, ch.args = ch.args[:n:n], ch.args[n:]
		sp.chunks.Put(ch)
	}
	a[0] = pgx.QueryExecModeExec
	copy(a[1:], args)
	return a, true
}

// objChunk hands out the small per-call objects (Row and Rows wrappers,
// prefixed argument lists) from shared arrays, as pgxpool does for its own
// row wrappers: one allocation per chunk instead of one per call. Elements
// are never handed out twice, so a stale pointer a caller keeps stays
// valid; fields holding request data are cleared after use so a chunk does
// not keep it alive.
type objChunk struct {
	rows []shardRow
	sets []shardRows
	args []any
}

const (
	objChunkLen  = 64
	argsChunkLen = 512
	maxChunkArgs = 64
)

func (sp *serverPool) chunk() *objChunk {
	if ch, ok := sp.chunks.Get().(*objChunk); ok {
		return ch
	}
	return &objChunk{}
}

func (sp *serverPool) newRow() *shardRow {
	ch := sp.chunk()
	if len(ch.rows) == 0 {
		ch.rows = make([]shardRow, objChunkLen)
	}
	r := &ch.rows[0]
	ch.rows = ch.rows[1:]
	sp.chunks.Put(ch)
	return r
}

func (sp *serverPool) newRows() *shardRows {
	ch := sp.chunk()
	if len(ch.sets) == 0 {
		ch.sets = make([]shardRows, objChunkLen)
	}
	r := &ch.sets[0]
	ch.sets = ch.sets[1:]
	sp.chunks.Put(ch)
	return r
}

// acquire takes a pool slot and a connection. Errors are classified:
// ErrPoolTimeout when no slot freed up within AcquireTimeout, ErrUnavailable
// (joined with the cause) when no connection could be made, or the
// context's error.
func (sp *serverPool) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	select {
	case sp.sem <- struct{}{}:
		c, err := sp.pool.Acquire(ctx)
		if err != nil {
			<-sp.sem
			return nil, sp.acquireFailed(ctx, err)
		}
		return c, nil
	default:
		return sp.acquireSlow(ctx)
	}
}

// acquireSlow waits for a slot, bounding the whole acquisition (wait plus
// dial) by AcquireTimeout from now.
func (sp *serverPool) acquireSlow(ctx context.Context) (*pgxpool.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, sp.acquireTimeout)
	defer cancel()
	select {
	case sp.sem <- struct{}{}:
	case <-actx.Done():
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: all %d connections to %s busy for %s", ErrPoolTimeout, cap(sp.sem), sp.where, sp.acquireTimeout)
	}
	c, err := sp.pool.Acquire(actx)
	if err != nil {
		<-sp.sem
		return nil, sp.acquireFailed(ctx, err)
	}
	return c, nil
}

func (sp *serverPool) acquireFailed(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return &causeError{kind: ErrUnavailable, cause: err, secret: sp.secret}
}

// release returns a connection and its slot.
func (sp *serverPool) release(c *pgxpool.Conn) {
	c.Release()
	<-sp.sem
}
