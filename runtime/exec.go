package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Executor runs prepared queries. Target (one logical shard or database,
// outside a transaction) and *Tx (inside one) implement it, so generated
// code is written once for both.
type Executor interface {
	Exec(ctx context.Context, q *Query, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, q *Query, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, q *Query, args ...any) pgx.Row
}

var (
	_ Executor = Target{}
	_ Executor = (*Tx)(nil)
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

// serverGoingAway reports whether a SQLSTATE means the server or the
// connection is gone: class 08 (connection exception) and 57P01-57P03
// (admin/crash shutdown, cannot connect now). 08P01 (protocol violation) is
// in class 08 but is the caller's bug, such as a wrong parameter count, not
// an outage, so it is not reported as ErrUnavailable.
func serverGoingAway(code string) bool {
	if code == "08P01" {
		return false
	}
	return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03"
}

// classify turns an error from a statement on conn into the error stored in
// a ShardError: connection-level failures become ErrUnavailable.
func (sp *serverPool) classify(ctx context.Context, conn *pgx.Conn, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if serverGoingAway(pgErr.Code) {
			return &causeError{kind: ErrUnavailable, cause: err, secret: sp.secret}
		}
		return err
	}
	if ctx != nil && ctx.Err() != nil {
		return err
	}
	if conn != nil && conn.IsClosed() {
		return &causeError{kind: ErrUnavailable, cause: err, secret: sp.secret}
	}
	if sp.secret != "" && strings.Contains(err.Error(), sp.secret) {
		return &causeError{cause: err, secret: sp.secret}
	}
	return err
}

// causeError joins a sentinel kind (may be nil) with the driver's error and
// scrubs the password from its text.
type causeError struct {
	kind   error
	cause  error
	secret string
}

func (e *causeError) Error() string {
	msg := scrub(e.cause.Error(), e.secret)
	if e.kind == nil {
		return msg
	}
	return e.kind.Error() + ": " + msg
}

func (e *causeError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.cause}
	}
	return []error{e.kind, e.cause}
}

func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "xxxxx")
}

// Target is one logical shard of a group, or a named database, outside any
// transaction: each call takes a pooled connection of the owning server,
// runs one statement in one round trip, and returns the connection (for
// Query, when the rows are closed). It is a small value; copy it freely.
type Target struct {
	srv    *Server
	group  *Group    // nil for a database
	db     *Database // nil for a group
	shard  Shard     // -1 for a database
	schema string    // quoted schema SchemaToken becomes
}

// Shard returns the logical shard (-1 for a database).
func (t Target) Shard() Shard { return t.shard }

// Server returns the physical server (nil for an out-of-range shard).
func (t Target) Server() *Server { return t.srv }

// Schema returns the quoted schema the target's queries use.
func (t Target) Schema() string { return t.schema }

// sql returns the query's text for this target or a *ShardError.
func (t *Target) sql(q *Query) (string, error) {
	switch {
	case t.srv == nil:
		return "", t.fail(fmt.Errorf("%w: shard %d is outside group %s (0-%d)", ErrWrongShard, t.shard, t.group.name, t.group.nShards-1))
	case q.err != nil:
		return "", t.fail(q.err)
	case t.group != nil:
		if q.group != t.group {
			return "", t.fail(fmt.Errorf("%w: query prepared for %s used on group %s", ErrWrongShard, q.owner(), t.group.name))
		}
		return q.text(t.shard), nil
	default:
		if q.db != t.db {
			return "", t.fail(fmt.Errorf("%w: query prepared for %s used on database %s", ErrWrongShard, q.owner(), t.db.name))
		}
		return *q.texts[0].Load(), nil
	}
}

func (q *Query) owner() string {
	if q.group != nil {
		return "group " + q.group.name
	}
	return "database " + q.db.name
}

// fail wraps err in a *ShardError naming this target.
func (t *Target) fail(err error) *ShardError {
	e := &ShardError{Shard: t.shard, Err: err}
	if t.group != nil {
		e.Group = t.group.name
	}
	if t.srv != nil {
		e.Server = t.srv.name
	}
	return e
}

// Exec runs a statement that returns no rows.
func (t Target) Exec(ctx context.Context, q *Query, args ...any) (pgconn.CommandTag, error) {
	sql, err := t.sql(q)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	sp := t.srv.pool
	c, err := sp.acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, t.fail(err)
	}
	a, prefixed := sp.args(args)
	tag, err := c.Conn().Exec(ctx, sql, a...)
	if err != nil {
		err = t.fail(sp.classify(ctx, c.Conn(), err))
	}
	sp.release(c)
	if prefixed {
		clear(a)
	}
	return tag, err
}

// Query runs a statement and returns its rows; the connection is returned
// to the pool when the rows are closed (or fully read). Errors, here and
// from Rows.Err, are *ShardError.
func (t Target) Query(ctx context.Context, q *Query, args ...any) (pgx.Rows, error) {
	sql, err := t.sql(q)
	if err != nil {
		return errRows{err}, err
	}
	sp := t.srv.pool
	c, err := sp.acquire(ctx)
	if err != nil {
		e := t.fail(err)
		return errRows{e}, e
	}
	a, prefixed := sp.args(args)
	rows, err := c.Conn().Query(ctx, sql, a...)
	if err != nil {
		e := t.fail(sp.classify(ctx, c.Conn(), err))
		sp.release(c)
		if prefixed {
			clear(a)
		}
		return errRows{e}, e
	}
	r := sp.newRows()
	*r = shardRows{Rows: rows, t: t, c: c, ctx: ctx}
	if prefixed {
		r.args = a
	}
	return r, nil
}

// QueryRow runs a statement expected to return at most one row. Scan
// returns a *ShardError matching ErrNotFound (and pgx.ErrNoRows) when there
// is none.
func (t Target) QueryRow(ctx context.Context, q *Query, args ...any) pgx.Row {
	sql, err := t.sql(q)
	if err != nil {
		return errRow{err}
	}
	sp := t.srv.pool
	c, err := sp.acquire(ctx)
	if err != nil {
		return errRow{t.fail(err)}
	}
	a, prefixed := sp.args(args)
	r := sp.newRow()
	*r = shardRow{row: c.Conn().QueryRow(ctx, sql, a...), t: t, c: c, ctx: ctx}
	if prefixed {
		r.args = a
	}
	return r
}

// shardRows releases the connection when closed and wraps errors.
type shardRows struct {
	pgx.Rows
	t    Target
	c    *pgxpool.Conn // nil inside a Tx, and once released
	ctx  context.Context
	args []any // prefixed arguments to clear on Close, if any
	err  error
	done bool
}

func (r *shardRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *shardRows) Close() {
	if r.done {
		return
	}
	r.done = true
	r.Rows.Close()
	if err := r.Rows.Err(); err != nil {
		var conn *pgx.Conn
		if r.c != nil {
			conn = r.c.Conn()
		}
		r.err = r.t.fail(r.t.srv.pool.classify(r.ctx, conn, err))
	}
	if r.c != nil {
		r.t.srv.pool.release(r.c)
		r.c = nil
	}
	clear(r.args)
	r.args, r.ctx = nil, nil
}

func (r *shardRows) Err() error {
	if r.done {
		return r.err
	}
	if err := r.Rows.Err(); err != nil {
		return r.t.fail(r.t.srv.pool.classify(r.ctx, nil, err))
	}
	return nil
}

// shardRow releases the connection after Scan and wraps errors.
type shardRow struct {
	row  pgx.Row // nil once scanned
	t    Target
	c    *pgxpool.Conn // nil inside a Tx
	ctx  context.Context
	args []any // prefixed arguments to clear after Scan, if any
}

// errScannedTwice is returned by a second Scan of the same Row.
var errScannedTwice = errors.New("shardgen runtime: Row.Scan called more than once")

func (r *shardRow) Scan(dest ...any) error {
	if r.row == nil {
		return errScannedTwice
	}
	err := r.row.Scan(dest...)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			err = r.t.fail(notFound)
		} else {
			var conn *pgx.Conn
			if r.c != nil {
				conn = r.c.Conn()
			}
			err = r.t.fail(r.t.srv.pool.classify(r.ctx, conn, err))
		}
	}
	if r.c != nil {
		r.t.srv.pool.release(r.c)
	}
	clear(r.args)
	*r = shardRow{}
	return err
}

// errRow is a Row whose Scan fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// errRows is Rows that failed before producing any.
type errRows struct{ err error }

func (errRows) Close()                                       {}
func (r errRows) Err() error                                 { return r.err }
func (errRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (errRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (errRows) Next() bool                                   { return false }
func (r errRows) Scan(...any) error                          { return r.err }
func (r errRows) Values() ([]any, error)                     { return nil, r.err }
func (errRows) RawValues() [][]byte                          { return nil }
func (errRows) Conn() *pgx.Conn                              { return nil }
func (errRows) TypeMap() *pgtype.Map                         { return nil }

// Tx is a transaction on one logical shard (or one database). It offers the
// same Executor methods; every statement runs on the transaction's
// connection.
type Tx struct {
	tx pgx.Tx
	t  Target
}

// Shard returns the transaction's logical shard (-1 for a database).
func (tx *Tx) Shard() Shard { return tx.t.shard }

// Target returns the shard or database the transaction is bound to.
func (tx *Tx) Target() Target { return tx.t }

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, q *Query, args ...any) (pgconn.CommandTag, error) {
	sql, err := tx.t.sql(q)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	sp := tx.t.srv.pool
	a, prefixed := sp.args(args)
	tag, err := tx.tx.Exec(ctx, sql, a...)
	if prefixed {
		clear(a)
	}
	if err != nil {
		return tag, tx.t.fail(sp.classify(ctx, tx.tx.Conn(), err))
	}
	return tag, nil
}

// Query runs a statement in the transaction and returns its rows.
func (tx *Tx) Query(ctx context.Context, q *Query, args ...any) (pgx.Rows, error) {
	sql, err := tx.t.sql(q)
	if err != nil {
		return errRows{err}, err
	}
	sp := tx.t.srv.pool
	a, prefixed := sp.args(args)
	rows, err := tx.tx.Query(ctx, sql, a...)
	if err != nil {
		if prefixed {
			clear(a)
		}
		e := tx.t.fail(sp.classify(ctx, tx.tx.Conn(), err))
		return errRows{e}, e
	}
	r := sp.newRows()
	*r = shardRows{Rows: rows, t: tx.t, ctx: ctx}
	if prefixed {
		r.args = a
	}
	return r, nil
}

// QueryRow runs a statement in the transaction; see Target.QueryRow.
func (tx *Tx) QueryRow(ctx context.Context, q *Query, args ...any) pgx.Row {
	sql, err := tx.t.sql(q)
	if err != nil {
		return errRow{err}
	}
	sp := tx.t.srv.pool
	a, prefixed := sp.args(args)
	r := sp.newRow()
	*r = shardRow{row: tx.tx.QueryRow(ctx, sql, a...), t: tx.t, ctx: ctx}
	if prefixed {
		r.args = a
	}
	return r
}

// InTx runs fn in a transaction on the target's connection: committed when
// fn returns nil, rolled back when it returns an error (returned unchanged)
// or panics. Errors of BEGIN and COMMIT are *ShardError; a COMMIT that fails
// with ErrUnavailable may or may not have been applied.
func (t Target) InTx(ctx context.Context, fn func(*Tx) error) (err error) {
	if t.srv == nil {
		_, err := t.sql(nil)
		return err
	}
	sp := t.srv.pool
	c, err := sp.acquire(ctx)
	if err != nil {
		return t.fail(err)
	}
	defer sp.release(c)
	ptx, err := c.Conn().Begin(ctx)
	if err != nil {
		return t.fail(sp.classify(ctx, c.Conn(), err))
	}
	committed := false
	defer func() {
		if !committed {
			// The error of ROLLBACK is secondary to fn's (or the panic);
			// a failed rollback closes the connection, which pgxpool drops.
			_ = ptx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(&Tx{tx: ptx, t: t}); err != nil {
		return err
	}
	committed = true
	if err := ptx.Commit(ctx); err != nil {
		return t.fail(sp.classify(ctx, c.Conn(), err))
	}
	return nil
}

// InTx runs fn in a transaction on one logical shard; see Target.InTx.
func (g *Group) InTx(ctx context.Context, s Shard, fn func(*Tx) error) error {
	return g.At(s).InTx(ctx, fn)
}

// InTx runs fn in a transaction on the database; see Target.InTx.
func (d *Database) InTx(ctx context.Context, fn func(*Tx) error) error {
	return d.target.InTx(ctx, fn)
}
