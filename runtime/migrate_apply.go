package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// preflight runs, for every group, the pending change of each shard schema
// that already has a history, in transactions it rolls back, and records
// every group where it fails on some shard (run.reject). It reports whether
// any group was rejected. New schemas need no preflight: there is no data
// a change could fail on.
func (run *migRun) preflight(ctx context.Context, pools []*serverPool, pending [][]*migTarget) bool {
	checks := make([][]*migTarget, len(pending))
	n := 0
	for i, ts := range pending {
		for _, t := range ts {
			if t.group != nil && t.hadHistory {
				checks[i] = append(checks[i], t)
				n++
			}
		}
	}
	if n == 0 {
		return false
	}
	start := time.Now()
	run.checked = map[*migTarget]error{}
	eachPool(pools, func(i int, sp *serverPool) { run.pool(ctx, sp, checks[i], true) })

	failing := map[*Group][]Shard{}
	for t, err := range run.checked {
		if err != nil {
			failing[t.group] = append(failing[t.group], t.shard)
		}
	}
	run.log(slog.LevelInfo, "shardgen migrate: preflight done", "schemas", n, "groups_rejected", len(failing), "elapsed", time.Since(start).Round(time.Millisecond))
	if len(failing) == 0 {
		return false
	}
	run.reject = map[*Group]*rejectedError{}
	for g, shards := range failing {
		slices.Sort(shards)
		run.reject[g] = &rejectedError{group: g.name, failing: shards}
	}
	return true
}

// dropRejected records the pending targets of rejected groups as failed
// and returns the others.
func (run *migRun) dropRejected(ts []*migTarget) []*migTarget {
	return slices.DeleteFunc(ts, func(t *migTarget) bool {
		if t.group == nil {
			return false
		}
		rej := run.reject[t.group]
		if rej == nil {
			return false
		}
		if err := run.checked[t]; err != nil {
			run.failOne(t, &changeError{err: err, group: t.group.name}, false)
		} else {
			run.failOne(t, rej, false)
		}
		return true
	})
}

// pool runs the targets of one connection pool with up to ConnsPerServer
// connections, Batch schemas per round trip: applying them, or (dry) the
// preflight.
func (run *migRun) pool(ctx context.Context, sp *serverPool, pending []*migTarget, dry bool) {
	if len(pending) == 0 {
		return
	}
	start := time.Now()
	conns := min(run.opts.ConnsPerServer, cap(sp.sem), len(pending))
	items := slices.Clone(pending)
	if !dry && len(items) > 1 {
		// Concurrent runs (replicas starting together) begin at different
		// places, so they mostly apply different schemas instead of
		// queueing on the same ones; each skips what the others finished
		// (recheck).
		k := rand.IntN(len(items))
		items = append(items[k:], items[:k]...)
	}
	q := &migQueue{items: items, alive: conns}
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() { run.worker(ctx, sp, q, dry) })
	}
	wg.Wait()
	run.log(slog.LevelInfo, "shardgen migrate: server done", "server", sp.where, "preflight", dry,
		"schemas", len(pending), "elapsed", time.Since(start).Round(time.Millisecond))
}

// bad records ts as failed in the phase: in the preflight, as checks that
// failed; while applying, as not migrated (to be verified).
func (run *migRun) bad(ts []*migTarget, err error, dry bool) {
	if !dry {
		run.failAll(ts, err, true)
		return
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	for _, t := range ts {
		run.checked[t] = err
	}
}

// good records t as done in the phase.
func (run *migRun) good(t *migTarget, dry bool) {
	if !dry {
		applied := make([]int, len(t.todo))
		for i, m := range t.todo {
			applied[i] = m.Version
		}
		run.finish(t, applied, nil)
		return
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	run.checked[t] = nil
}

// migQueue hands out batches of targets to a pool's workers.
type migQueue struct {
	mu    sync.Mutex
	items []*migTarget
	dead  error // once set, workers stop and the rest fail with it
	alive int   // workers that have not given up on getting a connection
}

// giveUp records that a worker could not get a connection and reports
// whether it was the last one: then nobody will run the queue.
func (q *migQueue) giveUp() (last bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.alive--
	return q.alive == 0
}

func (q *migQueue) take(n int) []*migTarget {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead != nil {
		return nil
	}
	n = min(n, len(q.items))
	batch := q.items[:n:n]
	q.items = q.items[n:]
	return batch
}

// putBack returns untried targets to the front of the queue.
func (q *migQueue) putBack(ts []*migTarget) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(slices.Clip(ts), q.items...)
}

// kill marks the pool unusable and returns the targets no worker will try.
func (q *migQueue) kill(err error) []*migTarget {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead == nil {
		q.dead = err
	}
	rest := q.items
	q.items = nil
	return rest
}

// worker runs batches on one connection until the queue is empty.
func (run *migRun) worker(ctx context.Context, sp *serverPool, q *migQueue, dry bool) {
	c, err := sp.acquire(ctx)
	if err != nil {
		// Other workers may hold connections (the pool can be busy with
		// the application's traffic); the queue fails only when none can.
		if q.giveUp() {
			run.bad(q.kill(err), err, dry)
		}
		return
	}
	defer sp.release(c)
	conn := c.Conn()
	for {
		if err := ctx.Err(); err != nil {
			run.bad(q.kill(err), err, dry)
			return
		}
		batch := q.take(run.opts.Batch)
		if len(batch) == 0 {
			return
		}
		if err := run.runBatch(ctx, sp, conn, batch, q, dry); err != nil {
			run.bad(q.kill(err), err, dry)
			return
		}
	}
}

// isHistoryCollision reports whether err is the duplicate key of a history
// row: a concurrent run applied this version to this schema first.
func isHistoryCollision(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.TableName == MigrationsTable
}

// runBatch sends the scripts of batch in one simple-protocol round trip,
// each schema in its own transaction (committed, or rolled back when dry).
// PostgreSQL stops at the first error of a multi-statement query, so the
// schemas before it are done, the failing one is rolled back and reported,
// and the ones after it were never run and go back to the queue. It
// returns an error only when the connection is unusable; then the schemas
// not known to be done are reported failed and the caller fails the rest
// of the queue.
func (run *migRun) runBatch(ctx context.Context, sp *serverPool, conn *pgx.Conn, batch []*migTarget, q *migQueue, dry bool) error {
	var b strings.Builder
	for _, t := range batch {
		t.script(&b, run.opts.LockTimeout, dry)
	}
	end := "COMMIT"
	if dry {
		end = "ROLLBACK"
	}
	mrr := conn.PgConn().Exec(ctx, b.String())
	done := 0
	for mrr.NextResult() {
		tag, err := mrr.ResultReader().Close()
		if err == nil && tag.String() == end && done < len(batch) {
			run.good(batch[done], dry)
			done++
		}
	}
	err := mrr.Close()
	if err == nil {
		if done != len(batch) {
			err = fmt.Errorf("migration batch out of step: %d of %d schemas done", done, len(batch))
			run.bad(batch[done:], err, dry)
			return err
		}
		return nil
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || conn.IsClosed() {
		// Whether the schema in flight committed is unknown; verify will
		// tell.
		err = sp.classify(ctx, conn, err)
		run.bad(batch[done:], err, dry)
		return err
	}
	t := batch[done]
	rest := batch[done+1:]
	// The failed schema's transaction is still open (aborted) on the
	// connection; end it so the connection can take the next batch.
	if _, rerr := conn.PgConn().Exec(ctx, "ROLLBACK").ReadAll(); rerr != nil {
		rerr = sp.classify(ctx, conn, rerr)
		run.bad(batch[done:], err, dry)
		return rerr
	}
	if dry && isHistoryCollision(err) {
		// A concurrent run applied the change here already: nothing left
		// to check on this schema.
		run.good(t, dry)
		q.putBack(rest)
		return nil
	}
	if !dry && isHistoryCollision(err) && t.collisions < maxCollisions {
		// Another run applied t first. Read t's history again, and drop
		// from the queue every schema that run has finished meanwhile.
		t.collisions++
		q.putBack(rest)
		return run.recheck(ctx, sp, conn, t, q)
	}
	run.bad([]*migTarget{t}, err, dry)
	q.putBack(rest)
	return nil
}

// recheck plans t again from its history, and finishes the queued shard
// schemas whose digest now says they are up to date: another run is
// migrating the same schemas, and chasing it schema by schema would cost a
// collision each.
func (run *migRun) recheck(ctx context.Context, sp *serverPool, conn *pgx.Conn, t *migTarget, q *migQueue) error {
	errs, err := survey(ctx, sp, conn, []*migTarget{t})
	if err != nil {
		run.bad([]*migTarget{t}, err, false)
		return err
	}
	switch {
	case errs[0] != nil:
		run.failOne(t, errs[0], false)
	case len(t.todo) == 0:
		run.finish(t, nil, nil)
	default:
		q.putBack([]*migTarget{t})
	}

	q.mu.Lock()
	items := q.items
	q.items = nil
	q.mu.Unlock()
	match, _, err := digestsMatch(ctx, sp, conn, items)
	if err != nil {
		q.putBack(items)
		return err
	}
	var keep []*migTarget
	for i, it := range items {
		if match[i] {
			run.finish(it, nil, nil)
		} else {
			keep = append(keep, it)
		}
	}
	q.putBack(keep)
	return nil
}

// script writes the transaction that applies t.todo: take the schema's
// migration lock, create the shard's schema and the history table if
// missing, then for each version its history row followed by its SQL, all
// under SET LOCAL lock_timeout. dry (the preflight) rolls back instead of
// committing.
func (t *migTarget) script(b *strings.Builder, lockTimeout time.Duration, dry bool) {
	fmt.Fprintf(b, "BEGIN;\nSET LOCAL lock_timeout = %d;\n", max(1, lockTimeout.Milliseconds()))
	if t.group == nil {
		fmt.Fprintf(b, "SELECT pg_catalog.pg_advisory_xact_lock(%d);\n", int64(migrateLockKey))
	} else {
		// The lock comes first: two runs creating one schema at once
		// would otherwise collide on the catalog's unique index. Only
		// shard schemas are created: "public" exists in every database,
		// and CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege on
		// the database even when the schema exists.
		fmt.Fprintf(b, "SELECT pg_catalog.pg_advisory_xact_lock(%d);\nCREATE SCHEMA IF NOT EXISTS %s;\n", schemaLockKey(t.unquoted()), t.schema)
	}
	// Bounded column types: a table whose rows cannot outgrow a page gets
	// no TOAST table, which saves two files (table and index) per schema,
	// a measurable part of creating thousands of schemas.
	fmt.Fprintf(b, "CREATE TABLE IF NOT EXISTS %s.%s (target varchar(%d) NOT NULL, version integer NOT NULL, seq integer NOT NULL, "+
		"name varchar(%d) NOT NULL, checksum char(64) NOT NULL, declarative boolean NOT NULL, applied_at timestamptz NOT NULL DEFAULT pg_catalog.now(), "+
		"PRIMARY KEY (target, version, seq));\n", t.schema, MigrationsTable, maxIdent, maxMigrationName)
	for _, m := range t.todo {
		// Under the lock, a run that read the history before another run
		// applied this version fails here, at once, instead of applying
		// it a second time (isHistoryCollision); so does the preflight,
		// which must not run an ordinary migration on a schema that has
		// it.
		fmt.Fprintf(b, "INSERT INTO %s.%s (target, version, seq, name, checksum, declarative) VALUES (%s, %d, %d, %s, '%s', %t);\n",
			t.schema, MigrationsTable, quoteLiteral(t.name), m.Version, m.seq, quoteLiteral(m.Name), m.sum, m.Declarative)
		// The newline keeps the terminating semicolon out of a trailing
		// "-- comment"; an extra empty statement after one is harmless.
		b.WriteString(t.render(m.SQL))
		b.WriteString("\n;\n")
	}
	if dry {
		b.WriteString("ROLLBACK;\n")
		return
	}
	if t.group != nil {
		fmt.Fprintf(b, "COMMENT ON TABLE %s.%s IS '%s';\n", t.schema, MigrationsTable, t.digest)
	}
	b.WriteString("COMMIT;\n")
}

// quoteLiteral quotes s as an escape string literal (E'...'), which means
// the same whatever standard_conforming_strings is set to.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `''`)
	return "E'" + s + "'"
}
