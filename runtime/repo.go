package runtime

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// On is where one statement of a generated repository runs: a Target
// outside a transaction, or a transaction. A repository and its
// transaction-bound variant share one generated body that takes an On. It
// is a small value whose methods call Target's or Tx's directly, so
// nothing is boxed in an interface on the way (Executor would allocate).
type On struct {
	t  Target
	tx *Tx
}

// Bind is where a statement for t runs: in tx when tx is not nil (a
// transaction on t's shard or database), else on t.
func Bind(t Target, tx *Tx) On { return On{t: t, tx: tx} }

// Exec runs a statement that returns no rows; see Target.Exec and Tx.Exec.
func (o On) Exec(ctx context.Context, q *Query, args ...any) (pgconn.CommandTag, error) {
	if o.tx != nil {
		return o.tx.Exec(ctx, q, args...)
	}
	return o.t.Exec(ctx, q, args...)
}

// Query runs a statement and returns its rows; see Target.Query and
// Tx.Query.
func (o On) Query(ctx context.Context, q *Query, args ...any) (pgx.Rows, error) {
	if o.tx != nil {
		return o.tx.Query(ctx, q, args...)
	}
	return o.t.Query(ctx, q, args...)
}

// QueryRow runs a statement expected to return at most one row; see
// Target.QueryRow and Tx.QueryRow.
func (o On) QueryRow(ctx context.Context, q *Query, args ...any) pgx.Row {
	if o.tx != nil {
		return o.tx.QueryRow(ctx, q, args...)
	}
	return o.t.QueryRow(ctx, q, args...)
}

var _ Executor = On{}
