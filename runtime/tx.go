package runtime

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Tx is a transaction on one logical shard (or one database). It offers the
// same Executor methods; every statement runs on the transaction's
// connection.
type Tx struct {
	tx          pgx.Tx
	t           Target
	afterCommit []func()
}

// AfterCommit registers fn to run once COMMIT has returned, in registration
// order, before InTx returns. It runs when COMMIT succeeded and also when
// COMMIT failed, since a COMMIT that fails in flight may have been applied;
// it never runs when the transaction rolls back (fn returned an error or
// panicked). Caches invalidate here (shardredis): after the commit, so no
// reader fills the cache from the old row afterwards, and also after an
// uncertain one, where invalidating a row that did not change costs only a
// miss.
func (tx *Tx) AfterCommit(fn func()) { tx.afterCommit = append(tx.afterCommit, fn) }

// Shard returns the transaction's logical shard (-1 for a database).
func (tx *Tx) Shard() Shard { return tx.t.shard }

// Target returns the shard or database the transaction is bound to.
func (tx *Tx) Target() Target { return tx.t }

// Pgx returns the underlying pgx transaction, for what the generated code
// does not cover (CopyFrom, SendBatch); qualify tables with
// tx.Target().Schema(). Do not commit or roll it back: InTx does.
func (tx *Tx) Pgx() pgx.Tx { return tx.tx }

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, q *Query, args ...any) (pgconn.CommandTag, error) {
	sql, err := tx.t.sql(q)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	sp := tx.t.srv.pool
	ctx = tx.t.traced(ctx)
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
	ctx = tx.t.traced(ctx)
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
	ctx = tx.t.traced(ctx)
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
// with ErrUnavailable may or may not have been applied. When fn fails
// because the shard met a move's fence, the error also matches
// ErrShardMoved; the transaction is not retried (fn may have done more than
// its statements), but the placement is reloaded, so running it again goes
// to the shard's new server.
func (t Target) InTx(ctx context.Context, fn func(*Tx) error) (err error) {
	if t.srv == nil {
		_, err := t.sql(nil)
		return err
	}
	sp := t.srv.pool
	ctx = t.traced(ctx)
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
	tx := &Tx{tx: ptx, t: t}
	if err := fn(tx); err != nil {
		if fenced(err) {
			// Not retried: fn may have done more than its statements.
			// The placement is reloaded so that running it again goes
			// to the shard's new server.
			_, _ = t.redirect(ctx, err)
			return moved(err)
		}
		return err
	}
	committed = true
	err = ptx.Commit(ctx)
	for _, f := range tx.afterCommit {
		f()
	}
	if err != nil {
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
