package runtime

import (
	"context"
	"errors"
	"fmt"

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

// Group returns the name of the target's shard group ("" for a database).
func (t Target) Group() string {
	if t.group == nil {
		return ""
	}
	return t.group.name
}

// Database returns the name of the target's database ("" for a shard).
func (t Target) Database() string {
	if t.db == nil {
		return ""
	}
	return t.db.name
}

type targetKey struct{}

// TargetFromContext returns the target of the statement whose context this
// is. When Config.ConfigurePool set a ConnConfig.Tracer, every statement of
// Target and Tx runs with its target in the context, so a pgx.QueryTracer
// (TraceQueryStart's ctx) can label spans and log lines with the group,
// shard, schema and server: t.Group(), t.Shard(), t.Schema(),
// t.Server().Name(). Without a tracer nothing is added (no cost per call).
// Fan-out rounds run many shards on one connection and are not labelled.
func TargetFromContext(ctx context.Context) (Target, bool) {
	t, ok := ctx.Value(targetKey{}).(Target)
	return t, ok
}

// traced returns ctx carrying the target when its server has a tracer.
func (t *Target) traced(ctx context.Context) context.Context {
	if t.srv.pool.traced {
		return context.WithValue(ctx, targetKey{}, *t)
	}
	return ctx
}

// WithConn runs fn with a connection of the target's server, for what the
// generated code does not cover (CopyFrom, SendBatch, LISTEN): taken within
// PoolConfig.AcquireTimeout like every call (failing with a *ShardError of
// ErrPoolTimeout, ErrUnavailable or ErrMisconfigured), and returned to the
// pool when fn returns. schema is the target's quoted schema, to qualify
// every table name ("blog_0007".posts); fn must not change session state
// (SET search_path, prepared statements it leaves behind) since the
// connection is shared by all shards of the server. fn's error is returned
// unchanged.
func (t Target) WithConn(ctx context.Context, fn func(conn *pgx.Conn, schema string) error) error {
	if t.srv == nil {
		_, err := t.sql(nil)
		return err
	}
	sp := t.srv.pool
	c, err := sp.acquire(t.traced(ctx))
	if err != nil {
		return t.fail(err)
	}
	defer sp.release(c)
	return fn(c.Conn(), t.schema)
}

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

// Exec runs a statement that returns no rows. A statement that meets the
// fence of a shard being moved is sent once more, to the shard's new
// server, after the placement is reloaded (see ErrShardMoved).
func (t Target) Exec(ctx context.Context, q *Query, args ...any) (pgconn.CommandTag, error) {
	tag, err := t.exec(ctx, q, args)
	if err != nil {
		if nt, ok := t.redirect(ctx, err); ok {
			tag, err = nt.exec(ctx, q, args)
		}
		err = moved(err)
	}
	return tag, err
}

func (t Target) exec(ctx context.Context, q *Query, args []any) (pgconn.CommandTag, error) {
	sql, err := t.sql(q)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	sp := t.srv.pool
	ctx = t.traced(ctx)
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
// from Rows.Err, are *ShardError. A query that fails before returning rows
// because the shard moved is sent once more to its new server.
func (t Target) Query(ctx context.Context, q *Query, args ...any) (pgx.Rows, error) {
	rows, err := t.query(ctx, q, args)
	if err != nil {
		if nt, ok := t.redirect(ctx, err); ok {
			rows, err = nt.query(ctx, q, args)
		}
		if err != nil {
			err = moved(err)
			return errRows{err}, err
		}
	}
	return rows, err
}

func (t Target) query(ctx context.Context, q *Query, args []any) (pgx.Rows, error) {
	sql, err := t.sql(q)
	if err != nil {
		return errRows{err}, err
	}
	sp := t.srv.pool
	ctx = t.traced(ctx)
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
// is none. A statement that meets the fence of a moving shard is sent once
// more, to its new server, when Scan sees the error.
func (t Target) QueryRow(ctx context.Context, q *Query, args ...any) pgx.Row {
	return t.queryRow(ctx, q, args, false)
}

func (t Target) queryRow(ctx context.Context, q *Query, args []any, retried bool) pgx.Row {
	sql, err := t.sql(q)
	if err != nil {
		return errRow{err}
	}
	sp := t.srv.pool
	ctx = t.traced(ctx)
	c, err := sp.acquire(ctx)
	if err != nil {
		return errRow{t.fail(err)}
	}
	a, prefixed := sp.args(args)
	r := sp.newRow()
	*r = shardRow{row: c.Conn().QueryRow(ctx, sql, a...), t: t, c: c, ctx: ctx, q: q, in: args, retried: retried}
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

	// Outside a Tx: the statement, to send it again when the shard moved.
	q       *Query
	in      []any
	retried bool
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
	t, ctx, q, in, retry := r.t, r.ctx, r.q, r.in, r.c != nil && !r.retried
	*r = shardRow{}
	if err != nil && retry {
		if nt, ok := t.redirect(ctx, err); ok {
			err = nt.queryRow(ctx, q, in, true).Scan(dest...)
		}
		err = moved(err)
	}
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
