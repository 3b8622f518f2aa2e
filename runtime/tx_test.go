package runtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardgen/shardgen/runtime/pgtest"
)

func TestTxAfterCommit(t *testing.T) {
	_, urls := pgtest.NewDatabase(t, 1, "txhook")
	spec := Spec{Groups: []GroupSpec{{Name: "g", Shards: 2}}}
	r := openSplit(t, spec, urls, PoolConfig{})
	g, _ := r.Group("g")
	ctx := context.Background()
	q := g.Prepare(`SELECT 1 FROM (SELECT 1) AS @schema@`) // schema-qualified in form only; no table needed
	var ran []string
	err := g.InTx(ctx, 0, func(tx *Tx) error {
		tx.AfterCommit(func() { ran = append(ran, "first") })
		tx.AfterCommit(func() { ran = append(ran, "second") })
		if len(ran) != 0 {
			t.Error("hook ran before the commit")
		}
		_, err := tx.Exec(ctx, q)
		return err
	})
	if err != nil || len(ran) != 2 || ran[0] != "first" || ran[1] != "second" {
		t.Fatalf("after commit: ran %v, err %v", ran, err)
	}
	ran = nil
	boom := errors.New("boom")
	err = g.InTx(ctx, 1, func(tx *Tx) error {
		tx.AfterCommit(func() { ran = append(ran, "rolled back") })
		return boom
	})
	if !errors.Is(err, boom) || len(ran) != 0 {
		t.Fatalf("after rollback: ran %v, err %v", ran, err)
	}
}

// openAccounts opens group g (2 shards) on one throwaway server with a table
// acct (id, n) migrated into every shard, rows 1 and 2 holding n = 0.
func openAccounts(t *testing.T) *Group {
	t.Helper()
	_, urls := pgtest.NewDatabase(t, 1, "txopts")
	spec := Spec{Groups: []GroupSpec{{Name: "g", Shards: 2, Migrations: []Migration{{Version: 1, Name: "acct",
		SQL: `CREATE TABLE @schema@.acct (id int PRIMARY KEY, n int NOT NULL); INSERT INTO @schema@.acct VALUES (1, 0), (2, 0);`}}}}}
	r := openSplit(t, spec, urls, PoolConfig{})
	if err := Migrate(context.Background(), r, spec, MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	g, _ := r.Group("g")
	return g
}

// writeSkew is a transaction body that provokes a real serialization
// failure when two run at once at serializable isolation: on its first
// attempt each reads the sum of acct, waits until the other has read it
// too, inserts a row derived from it, and waits until the other has
// inserted before committing. Neither saw the other's row, which no serial
// order allows, so PostgreSQL aborts one of them with SQLSTATE 40001.
type writeSkew struct {
	read, wrote sync.WaitGroup
	calls       atomic.Int32
	committed   atomic.Int32
	sel, ins    *Query
}

func newWriteSkew(g *Group) *writeSkew {
	w := &writeSkew{sel: g.Prepare(`SELECT coalesce(sum(n), 0) FROM @schema@.acct`),
		ins: g.Prepare(`INSERT INTO @schema@.acct (id, n) VALUES ($1, $2)`)}
	w.read.Add(2)
	w.wrote.Add(2)
	return w
}

func (w *writeSkew) run(ctx context.Context, id int, first *atomic.Bool) func(*Tx) error {
	return func(tx *Tx) error {
		w.calls.Add(1)
		tx.AfterCommit(func() { w.committed.Add(1) })
		rendezvous := first.Swap(false)
		read, wrote := rendezvous, rendezvous
		defer func() {
			// An attempt that failed early still releases the other.
			if read {
				w.read.Done()
			}
			if wrote {
				w.wrote.Done()
			}
		}()
		var sum int
		if err := tx.QueryRow(ctx, w.sel).Scan(&sum); err != nil {
			return err
		}
		if read {
			read = false
			w.read.Done()
			w.read.Wait()
		}
		if _, err := tx.Exec(ctx, w.ins, id, sum+1); err != nil {
			return err
		}
		if wrote {
			wrote = false
			w.wrote.Done()
			w.wrote.Wait()
		}
		return nil
	}
}

// race runs two write-skew transactions on shard 0 at once with opts.
func (w *writeSkew) race(ctx context.Context, g *Group, opts TxOptions) [2]error {
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		first := new(atomic.Bool)
		first.Store(true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.InTxWith(ctx, 0, opts, w.run(ctx, 10+i, first))
		}()
	}
	wg.Wait()
	return errs
}

func TestTxSerializationFailureNotRetriedByDefault(t *testing.T) {
	g := openAccounts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := newWriteSkew(g)
	errs := w.race(ctx, g, TxOptions{IsoLevel: pgx.Serializable})
	var failed int
	for _, err := range errs {
		if err == nil {
			continue
		}
		failed++
		var pgErr *pgconn.PgError
		if !errors.Is(err, ErrSerialization) || !errors.As(err, &pgErr) || pgErr.Code != "40001" {
			t.Errorf("error %v: want ErrSerialization with SQLSTATE 40001", err)
		}
	}
	if failed != 1 || w.calls.Load() != 2 || w.committed.Load() != 1 {
		t.Fatalf("errors %v, fn ran %d times, %d committed: want one serialization failure, two runs, one commit", errs, w.calls.Load(), w.committed.Load())
	}
	var rows int
	if err := g.At(0).QueryRow(ctx, g.Prepare(`SELECT count(*) FROM @schema@.acct WHERE id >= 10`)).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("inserted rows %d, %v: want 1", rows, err)
	}
}

func TestTxSerializationFailureRetriedWhenAsked(t *testing.T) {
	g := openAccounts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := newWriteSkew(g)
	errs := w.race(ctx, g, TxOptions{IsoLevel: pgx.Serializable, Attempts: 3})
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("with 3 attempts: %v", errs)
	}
	// The loser ran again, alone, and saw the winner's row.
	if w.calls.Load() != 3 || w.committed.Load() != 2 {
		t.Fatalf("fn ran %d times, %d committed: want 3 runs (one retry) and 2 commits (AfterCommit of the aborted attempt dropped)", w.calls.Load(), w.committed.Load())
	}
	var ns []int
	rows, err := g.At(0).Query(ctx, g.Prepare(`SELECT n FROM @schema@.acct WHERE id >= 10 ORDER BY n`))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int
		_ = rows.Scan(&n)
		ns = append(ns, n)
	}
	if rows.Err() != nil || len(ns) != 2 || ns[0] != 1 || ns[1] != 2 {
		t.Fatalf("rows n = %v (%v): want [1 2], the retried transaction serialized after the first", ns, rows.Err())
	}
}

func TestTxDeadlockRetriedWhenAsked(t *testing.T) {
	g := openAccounts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	upd := g.Prepare(`UPDATE @schema@.acct SET n = n + 1 WHERE id = $1`)
	var locked sync.WaitGroup
	locked.Add(2)
	var calls atomic.Int32
	var deadlocks atomic.Int32
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		first := true
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each locks its own row, waits for the other, then wants the
			// other's row: PostgreSQL finds the cycle and aborts one.
			mine, theirs := 1+i, 2-i
			errs[i] = g.InTxWith(ctx, 1, TxOptions{Attempts: MaxTxAttempts}, func(tx *Tx) error {
				calls.Add(1)
				rendezvous := first
				first = false
				err := func() error {
					if _, err := tx.Exec(ctx, upd, mine); err != nil {
						return err
					}
					if rendezvous {
						rendezvous = false
						locked.Done()
						locked.Wait()
					}
					_, err := tx.Exec(ctx, upd, theirs)
					return err
				}()
				if rendezvous {
					locked.Done()
				}
				var pgErr *pgconn.PgError
				if errors.Is(err, ErrSerialization) && errors.As(err, &pgErr) && pgErr.Code == "40P01" {
					deadlocks.Add(1)
				}
				return err
			})
		}()
	}
	wg.Wait()
	// A retry can meet the other transaction again (it may take the row
	// the other was waiting for first): each deadlock costs one more run.
	if errs[0] != nil || errs[1] != nil || deadlocks.Load() < 1 || calls.Load() != 2+deadlocks.Load() {
		t.Fatalf("errors %v, %d deadlocks, fn ran %d times: want both committed after at least one deadlock, one run more per deadlock", errs, deadlocks.Load(), calls.Load())
	}
	var sum int
	if err := g.At(1).QueryRow(ctx, g.Prepare(`SELECT sum(n) FROM @schema@.acct`)).Scan(&sum); err != nil || sum != 4 {
		t.Fatalf("sum %d, %v: want 4 (each transaction added 1 to both rows)", sum, err)
	}
}

func TestTxOptionsIsolationAndReadOnly(t *testing.T) {
	g := openAccounts(t)
	ctx := context.Background()
	show := g.Prepare(`SELECT current_setting('transaction_isolation') || ' ' || current_setting('transaction_read_only') FROM @schema@.acct LIMIT 1`)
	for _, c := range []struct {
		opts TxOptions
		want string
	}{
		{TxOptions{}, "read committed off"},
		{TxOptions{IsoLevel: pgx.RepeatableRead}, "repeatable read off"},
		{TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadOnly, DeferrableMode: pgx.Deferrable}, "serializable on"},
	} {
		var got string
		err := g.InTxWith(ctx, 1, c.opts, func(tx *Tx) error { return tx.QueryRow(ctx, show).Scan(&got) })
		if err != nil || got != c.want {
			t.Errorf("%+v: %q, %v; want %q", c.opts, got, err, c.want)
		}
	}
	upd := g.Prepare(`UPDATE @schema@.acct SET n = 1`)
	err := g.InTxWith(ctx, 1, TxOptions{AccessMode: pgx.ReadOnly, Attempts: 5}, func(tx *Tx) error {
		_, err := tx.Exec(ctx, upd)
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" || errors.Is(err, ErrSerialization) {
		t.Fatalf("write in a read-only transaction: %v, want SQLSTATE 25006 (read_only_sql_transaction), not retried", err)
	}
}

func TestTxOptionsAttemptsBounded(t *testing.T) {
	for _, c := range []struct{ in, want int }{{-1, 1}, {0, 1}, {1, 1}, {3, 3}, {MaxTxAttempts, MaxTxAttempts}, {1000, MaxTxAttempts}} {
		if got := (TxOptions{Attempts: c.in}).attempts(); got != c.want {
			t.Errorf("Attempts %d: %d attempts, want %d", c.in, got, c.want)
		}
	}
}
