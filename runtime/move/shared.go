package move

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shardgen/shardgen/runtime"
)

// The pieces of a move that a move of another kind (package
// runtime/modelmove, which moves a model's table between databases) uses
// too: the verification, the fence's lock discipline and the ending of a
// killed run's sessions.

// Chunk is the row count and md5 of one chunk of a table in primary-key
// order.
type Chunk struct {
	Rows int64
	Sum  string
}

// Checksums returns the chunks of size rows of table schema.name in
// primary-key order (pk), each row hashed as the text of the columns cols,
// in the order given: two tables hold the same rows exactly when their
// chunks are equal.
func Checksums(ctx context.Context, conn *pgx.Conn, schema, name string, cols, pk []string, size int) ([]Chunk, error) {
	qc := make([]string, len(cols))
	for i, c := range cols {
		qc[i] = "x." + runtime.QuoteIdent(c)
	}
	qpk := make([]string, len(pk))
	for i, c := range pk {
		qpk[i] = "x." + runtime.QuoteIdent(c)
	}
	q := fmt.Sprintf(`SELECT count(*), md5(string_agg(h, '' ORDER BY rn)) FROM (
	SELECT row_number() OVER (ORDER BY %s) AS rn, md5(ROW(%s)::text) AS h FROM %s.%s x) r
GROUP BY (rn - 1) / %d ORDER BY (rn - 1) / %d`, strings.Join(qpk, ", "), strings.Join(qc, ", "), runtime.QuoteIdent(schema), runtime.QuoteIdent(name), size, size)
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Chunk, error) {
		var c Chunk
		err := row.Scan(&c.Rows, &c.Sum)
		return c, err
	})
}

// FirstDiff returns the index of the first chunk where a and b differ, or
// -1 when they are equal.
func FirstDiff(a, b []Chunk) int {
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return -1
}

// EndSessions terminates the client sessions with application_name app on
// conn's database other than conn's own (those of an earlier, killed run
// of a move: a DDL still waiting for its locks) and waits until they are
// gone, so nothing they do lands after the caller looked.
func EndSessions(ctx context.Context, conn *pgx.Conn, app string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM pg_catalog.pg_stat_activity
			WHERE application_name = $1 AND backend_type = 'client backend' AND datname = pg_catalog.current_database()
			AND pid <> pg_catalog.pg_backend_pid()`, app).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sessions of an earlier run (%s) do not end", app)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LockedDDL runs sql (DDL that takes table locks, like creating a fence)
// in one transaction on conn. Taking the locks waits for every in-flight
// writer of those tables; each attempt is bounded by lockTimeout (writers
// queued behind it wait at most that long); after attempts failed
// attempts the sessions holding locks on the relations oids are
// terminated (their transactions fail, nothing they wrote commits) and a
// last attempt waits four times as long. logf, when set, hears of retries
// and terminations.
func LockedDDL(ctx context.Context, conn *pgx.Conn, sql string, oids []uint32, lockTimeout time.Duration, attempts int, logf func(msg string, args ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	for attempt := 1; ; attempt++ {
		last := attempt >= attempts
		if last {
			var killed int
			err := conn.QueryRow(ctx, `SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM (SELECT DISTINCT pid FROM pg_catalog.pg_locks
				WHERE relation = ANY($1) AND granted AND pid <> pg_catalog.pg_backend_pid()) l`, oids).Scan(&killed)
			if err != nil {
				return err
			}
			logf("shardgen move: terminated sessions holding locks the fence needs", "sessions", killed)
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			timeout := lockTimeout
			if last {
				timeout = 4 * lockTimeout
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", timeout.Milliseconds())); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, sql)
			return err
		})
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "55P03" || pgErr.Code == "40P01") && attempt < attempts+2 {
			logf("shardgen move: fence attempt waited too long for locks; retrying", "attempt", attempt)
			continue
		}
		return err
	}
}
