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

	// down is the breaker: nil while the server is healthy (see breaker.go).
	down           atomic.Pointer[downState]
	probeInterval  time.Duration
	connectTimeout time.Duration
	noBreaker      bool // benchmarks only: every call dials, as before the breaker

	info PoolInfo // who uses this pool, for Stats

	// Failure counters for Stats.
	timeouts, fastFails, trips atomic.Int64

	// traced is set when a QueryTracer is configured: calls then carry
	// their target in the context (TargetFromContext).
	traced bool
}

// newServerPool creates the pool of one connection string. pc is the
// PoolConfig as given (before defaults): its non-zero fields override the
// connection string's pool_* and connect_timeout parameters, which override
// the defaults (see PoolConfig). configure, when not nil, may adjust the
// pgxpool.Config (Config.ConfigurePool) before the pool is created.
func newServerPool(ctx context.Context, url string, pc PoolConfig, configure func(*pgxpool.Config) error) (*serverPool, error) {
	cfg, err := parseConn(url)
	if err != nil {
		return nil, err
	}
	pc = pc.forConn(cfg, connKeys(url))
	cfg.MaxConns = pc.MaxConns
	cfg.MinConns = pc.MinConns
	cfg.MaxConnLifetime = pc.MaxConnLifetime
	cfg.MaxConnIdleTime = pc.MaxConnIdleTime
	cfg.ShouldPing = shouldPing
	cc := cfg.ConnConfig
	cc.ConnectTimeout = pc.ConnectTimeout
	sp := &serverPool{
		sem:            make(chan struct{}, pc.MaxConns),
		acquireTimeout: pc.AcquireTimeout,
		connectTimeout: pc.ConnectTimeout,
		probeInterval:  pc.ProbeInterval,
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
	if configure != nil {
		if err := configure(cfg); err != nil {
			return nil, fmt.Errorf("ConfigurePool for %s: %s", sp.where, scrub(err.Error(), sp.secret))
		}
		// The bounded acquire relies on these; a hook must not undo them.
		cfg.MaxConns, cfg.ShouldPing = pc.MaxConns, shouldPing
		sp.traced = cc.Tracer != nil
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

// acquire takes a pool slot and a connection, within AcquireTimeout
// whatever the server does (see take). Errors are classified:
// ErrPoolTimeout when no slot freed up in time, ErrUnavailable or
// ErrMisconfigured (joined with the cause) when no connection could be
// made, or the context's error. While the server's breaker is open (see
// breaker.go) it fails at once, without dialling.
func (sp *serverPool) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	probing := false
	if d := sp.down.Load(); d != nil {
		var err error
		if probing, err = sp.gate(d); err != nil {
			return nil, err
		}
	}
	select {
	case sp.sem <- struct{}{}:
		return sp.take(ctx, ctx, probing)
	default:
		return sp.acquireSlow(ctx, probing)
	}
}

// acquireSlow waits for a slot, bounding the whole acquisition (wait plus
// dial) by AcquireTimeout from now.
func (sp *serverPool) acquireSlow(ctx context.Context, probing bool) (*pgxpool.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, sp.acquireTimeout)
	defer cancel()
	select {
	case sp.sem <- struct{}{}:
	case <-actx.Done():
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, sp.poolTimeout()
	}
	return sp.take(ctx, actx, probing)
}

func (sp *serverPool) poolTimeout() error {
	sp.timeouts.Add(1)
	return fmt.Errorf("%w: all %d connections to %s busy for %s", ErrPoolTimeout, cap(sp.sem), sp.where, sp.acquireTimeout)
}

// pingKey marks, in a connection's CustomData, a connection pgxpool would
// have pinged (idle for more than a second): take pings it itself, within
// AcquireTimeout. pgxpool's own ping waits on the caller's context alone, so
// a frozen server would hang a call without a deadline.
const pingKey = "shardgen.ping"

func shouldPing(_ context.Context, p pgxpool.ShouldPingParams) bool {
	if p.IdleDuration > time.Second {
		p.Conn.PgConn().CustomData()[pingKey] = true
	}
	return false
}

// take gets a connection once a slot is held (released again on error).
// actx is ctx, or ctx bounded by what is left of AcquireTimeout after
// waiting for the slot. A connection idle for more than a second is pinged
// first; pings and dials together are bounded by AcquireTimeout.
func (sp *serverPool) take(ctx, actx context.Context, probing bool) (*pgxpool.Conn, error) {
	var pingDeadline time.Time
	for attempt := 0; ; attempt++ {
		c, err := sp.pool.Acquire(actx)
		if err != nil {
			<-sp.sem
			return nil, sp.acquireFailed(ctx, actx, err)
		}
		cd := c.Conn().PgConn().CustomData()
		if _, stale := cd[pingKey]; !stale {
			if probing {
				sp.down.Store(nil)
			}
			return c, nil
		}
		delete(cd, pingKey)
		if pingDeadline.IsZero() {
			pingDeadline = time.Now().Add(sp.acquireTimeout)
		}
		pctx, cancel := context.WithDeadline(actx, pingDeadline)
		err = c.Conn().Ping(pctx)
		cancel()
		if err == nil {
			if probing {
				sp.down.Store(nil)
			}
			return c, nil
		}
		if !c.Conn().IsClosed() {
			// A ping that failed without closing the connection (a
			// server error): do not hand it out again.
			c.Hijack().PgConn().Close(context.Background())
		} else {
			c.Release() // destroys the closed connection
		}
		if cerr := ctx.Err(); cerr != nil {
			<-sp.sem
			return nil, cerr
		}
		if pctx.Err() != nil || attempt >= cap(sp.sem) {
			// The server did not answer within AcquireTimeout: down.
			<-sp.sem
			e := &causeError{kind: ErrUnavailable, cause: fmt.Errorf("no answer to a ping within %s: %w", sp.acquireTimeout, err), secret: sp.secret}
			sp.trip(e)
			return nil, e
		}
		// A stale connection failed fast (the server restarted): try the
		// next idle one or dial.
	}
}

// acquireFailed classifies an error of pgxpool.Acquire and opens the
// breaker for a server that could not be reached or rejected us.
func (sp *serverPool) acquireFailed(ctx, actx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if actx != ctx && actx.Err() != nil {
		// The budget ran out while the slot was being handed over or the
		// connection dialled after a long wait: the server is busy, not
		// known to be down.
		return sp.poolTimeout()
	}
	kind := ErrUnavailable
	if rejected(err) {
		kind = ErrMisconfigured
	}
	e := &causeError{kind: kind, cause: err, secret: sp.secret}
	sp.trip(e)
	return e
}

// release returns a connection and its slot.
func (sp *serverPool) release(c *pgxpool.Conn) {
	c.Release()
	<-sp.sem
}
