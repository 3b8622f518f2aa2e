package runtime

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Sentinel errors. Test for them with errors.Is; the runtime wraps them in a
// *ShardError (or *FanOutError / *ConfigError) that says where they happened.
var (
	// ErrNotFound reports that no row matched a lookup by key or ID. A
	// *ShardError whose Err is ErrNotFound also matches pgx.ErrNoRows, so code
	// written against plain pgx keeps working.
	ErrNotFound = errors.New("not found")

	// ErrWrongShard reports that a key, ID or query does not belong to the
	// shard or group it was used with, e.g. an ID whose embedded shard differs
	// from the shard of its row's shard key, or a Query prepared for one group
	// run on another.
	ErrWrongShard = errors.New("wrong shard")

	// ErrPoolTimeout reports that no connection of a physical server's pool
	// became free within PoolConfig.AcquireTimeout (hypervault's "block
	// timeout"). The server is up but saturated.
	ErrPoolTimeout = errors.New("connection pool exhausted: acquire timed out")

	// ErrUnavailable reports that a physical server could not be reached or
	// dropped the connection (refused, reset, shutting down, connect
	// timeout, no answer within AcquireTimeout). Only the shards on that
	// server are affected; retrying later may succeed. While a server is
	// known down, calls fail with it at once, without dialling (see
	// PoolConfig.ProbeInterval).
	ErrUnavailable = errors.New("server unavailable")

	// ErrMisconfigured reports that a server refused the connection's
	// configuration: a wrong password (SQLSTATE 28P01), a missing role or
	// failed authorization (28000), a missing database (3D000), or TLS that
	// cannot be negotiated or verified. Retrying does not help until the
	// configuration (or the server) is fixed; it never matches
	// ErrUnavailable.
	ErrMisconfigured = errors.New("server rejected the connection configuration")

	// ErrSerialization reports that PostgreSQL aborted a transaction (or a
	// statement) for a conflict with a concurrent one: a serialization
	// failure (SQLSTATE 40001, at repeatable read or serializable) or a
	// deadlock (40P01). Nothing of the transaction was applied; running it
	// again may succeed, which InTxWith does when TxOptions.Attempts asks.
	// The *pgconn.PgError stays in the chain for errors.As.
	ErrSerialization = errors.New("transaction aborted by a concurrent one (serialization failure or deadlock)")

	// ErrConflict reports that a write met a row it must not overwrite:
	// a versioned Update found the row at another version than the one it
	// was read at (someone else changed it: read it again and retry), or
	// an upsert's conflicting row belongs to another shard key on the same
	// logical shard.
	ErrConflict = errors.New("row changed or owned by another key")
)

// notFound is what a Row's Scan returns inside a *ShardError when the query
// produced no row: it matches both ErrNotFound and pgx.ErrNoRows. It is an
// immutable value, not mutable state.
var notFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string   { return "not found (no rows in result set)" }
func (notFoundError) Unwrap() []error { return []error{ErrNotFound, pgx.ErrNoRows} }

// ShardError says which group, logical shard and physical server an
// operation failed on. Err is the cause: one of the sentinels above (possibly
// joined with the underlying network error), a *pgconn.PgError from the
// server, or a context error. errors.Is and errors.As see through it.
// Error never contains a password.
type ShardError struct {
	Group  string // shard group, or "" for a named database
	Shard  Shard  // logical shard; -1 for a named database
	Server string // physical server name from the config (database name for databases)
	Err    error
}

// Error formats as `group blog shard 7 (blog_0007) on server "a": <cause>`,
// or `database "analytics": <cause>`.
func (e *ShardError) Error() string {
	var b strings.Builder
	if e.Group != "" {
		b.WriteString("group ")
		b.WriteString(e.Group)
		b.WriteString(" shard ")
		b.WriteString(strconv.Itoa(int(e.Shard)))
		if e.Shard >= 0 {
			b.WriteString(" (")
			b.WriteString(SchemaName(e.Group, e.Shard))
			b.WriteString(")")
		}
		if e.Server != "" {
			b.WriteString(" on server ")
			b.WriteString(strconv.Quote(e.Server))
		}
	} else {
		// A database's server is named after the database.
		b.WriteString("database ")
		b.WriteString(strconv.Quote(e.Server))
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("unknown error")
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *ShardError) Unwrap() error { return e.Err }

// FanOutError lists every shard a fan-out could not complete on. Results
// that were merged for other shards must be treated as partial.
type FanOutError struct {
	Group  string
	Failed []*ShardError // sorted by shard
}

// Error summarises the failed shards; the first few causes are included.
func (e *FanOutError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fan-out over group %s failed on %d shard(s)", e.Group, len(e.Failed))
	if len(e.Failed) > 0 {
		b.WriteString(": shards ")
		const show = 16
		for i, f := range e.Failed {
			if i == show {
				fmt.Fprintf(&b, ", ... (%d more)", len(e.Failed)-show)
				break
			}
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(strconv.Itoa(int(f.Shard)))
		}
		b.WriteString("; first error: ")
		b.WriteString(e.Failed[0].Error())
	}
	return b.String()
}

// Unwrap returns the per-shard errors, so errors.Is(err, ErrUnavailable)
// reports whether any shard failed for that reason.
func (e *FanOutError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f
	}
	return errs
}

// ConfigError lists every problem found in a Config (checked against a Spec)
// or a Spec. Problems are complete sentences naming the offending database,
// group, server or shard range; they never contain a password.
type ConfigError struct {
	Problems []string
}

// Error joins the problems, one per line after the first.
func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return "shardgen runtime config: " + e.Problems[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "shardgen runtime config: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p)
	}
	return b.String()
}

// problems accumulates ConfigError problems.
type problems []string

func (p *problems) add(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ConfigError{Problems: p}
}
