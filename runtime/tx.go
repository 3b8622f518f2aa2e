package runtime

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

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

// TxOptions are the options of a transaction: how BEGIN starts it
// (IsoLevel, AccessMode and DeferrableMode, as in pgx.TxOptions) and
// whether it is run again when PostgreSQL aborts it for a conflict with a
// concurrent transaction. The zero value is a read-write transaction at the
// server's default isolation (read committed) that is never retried.
type TxOptions struct {
	// IsoLevel is the isolation level ("" for the server's default), e.g.
	// pgx.Serializable or pgx.RepeatableRead.
	IsoLevel pgx.TxIsoLevel
	// AccessMode is pgx.ReadOnly for a transaction that refuses writes
	// ("" or pgx.ReadWrite otherwise).
	AccessMode pgx.TxAccessMode
	// DeferrableMode is pgx.Deferrable for a serializable read-only
	// transaction that waits for a snapshot free of serialization
	// anomalies instead of risking a serialization failure.
	DeferrableMode pgx.TxDeferrableMode
	// Attempts bounds how many times fn runs when the transaction fails
	// with ErrSerialization (SQLSTATE 40001, a serialization failure, or
	// 40P01, a deadlock), whether in fn's statements or at COMMIT: each
	// attempt is a new transaction, after a short randomized pause. 0 and 1
	// run fn once (the default: retrying is opt-in, because fn must then be
	// safe to run again: no effects outside the transaction but
	// AfterCommit); values above MaxTxAttempts are MaxTxAttempts. The error
	// of the last attempt is returned.
	Attempts int
}

// MaxTxAttempts bounds TxOptions.Attempts.
const MaxTxAttempts = 10

// pgx is the options BEGIN takes.
func (o TxOptions) pgx() pgx.TxOptions {
	return pgx.TxOptions{IsoLevel: o.IsoLevel, AccessMode: o.AccessMode, DeferrableMode: o.DeferrableMode}
}

// attempts is Attempts clamped to [1, MaxTxAttempts].
func (o TxOptions) attempts() int { return min(max(o.Attempts, 1), MaxTxAttempts) }

// InTx runs fn in a transaction on the target's connection: committed when
// fn returns nil, rolled back when it returns an error (returned unchanged)
// or panics. Errors of BEGIN and COMMIT are *ShardError; a COMMIT that fails
// with ErrUnavailable may or may not have been applied. When fn fails
// because the shard met a move's fence, the error also matches
// ErrShardMoved; the transaction is not retried (fn may have done more than
// its statements), but the placement is reloaded, so running it again goes
// to the shard's new server. InTx is InTxWith with the zero TxOptions.
func (t Target) InTx(ctx context.Context, fn func(*Tx) error) error {
	return t.InTxWith(ctx, TxOptions{}, fn)
}

// InTxWith is InTx with options: the isolation level and access mode of
// the transaction, and how many times to run it when it fails with
// ErrSerialization (see TxOptions.Attempts; never by default).
func (t Target) InTxWith(ctx context.Context, opts TxOptions, fn func(*Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := t.inTx(ctx, opts.pgx(), fn)
		if err == nil || attempt >= opts.attempts() || !errors.Is(err, ErrSerialization) {
			return err
		}
		// Both transactions of a conflict may be retried: a randomized
		// pause, growing with the attempt, keeps them from meeting again.
		pause := time.Duration(1+rand.IntN(min(4<<attempt, 200))) * time.Millisecond
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}

// inTx is one attempt of InTxWith.
func (t Target) inTx(ctx context.Context, opts pgx.TxOptions, fn func(*Tx) error) error {
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
	ptx, err := c.Conn().BeginTx(ctx, opts)
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
	if cerr := ptx.Commit(ctx); cerr != nil {
		err = t.fail(sp.classify(ctx, c.Conn(), cerr))
		if errors.Is(err, ErrSerialization) {
			// A serialization failure at COMMIT is certain: nothing was
			// applied, so AfterCommit does not run and the attempt may
			// be retried.
			return err
		}
	}
	for _, f := range tx.afterCommit {
		f()
	}
	return err
}

// InTx runs fn in a transaction on one logical shard; see Target.InTx.
func (g *Group) InTx(ctx context.Context, s Shard, fn func(*Tx) error) error {
	return g.At(s).InTx(ctx, fn)
}

// InTxWith runs fn in a transaction on one logical shard with options; see
// Target.InTxWith.
func (g *Group) InTxWith(ctx context.Context, s Shard, opts TxOptions, fn func(*Tx) error) error {
	return g.At(s).InTxWith(ctx, opts, fn)
}

// InTx runs fn in a transaction on the database; see Target.InTx.
func (d *Database) InTx(ctx context.Context, fn func(*Tx) error) error {
	return d.target.InTx(ctx, fn)
}

// InTxWith runs fn in a transaction on the database with options; see
// Target.InTxWith.
func (d *Database) InTxWith(ctx context.Context, opts TxOptions, fn func(*Tx) error) error {
	return d.target.InTxWith(ctx, opts, fn)
}
