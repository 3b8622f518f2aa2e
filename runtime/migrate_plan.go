package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// verHist is what a schema's history says about one version.
type verHist struct {
	seq  int            // its latest application
	sum  string         // the checksum of the latest application
	name string         // the name of the latest application
	seen map[string]int // every checksum it was applied with -> its latest seq
}

// readHistory surveys the targets of one pool and returns those with
// something to apply; it finishes the others (up to date), or records them
// as failed.
func (run *migRun) readHistory(ctx context.Context, sp *serverPool, targets []*migTarget) []*migTarget {
	c, err := sp.acquire(ctx)
	if err != nil {
		run.failAll(targets, err, false)
		return nil
	}
	defer sp.release(c)
	errs, err := survey(ctx, sp, c.Conn(), targets)
	if err != nil {
		run.failAll(targets, err, false)
		return nil
	}
	var pending []*migTarget
	for i, t := range targets {
		switch {
		case errs[i] != nil:
			run.failOne(t, errs[i], false)
		case len(t.todo) == 0:
			run.finish(t, nil, nil)
		default:
			pending = append(pending, t)
		}
	}
	return pending
}

// digestsMatch tells, with one catalog query, which shard targets' history
// tables carry the Spec's digest (are up to date), and which schemas have
// a history table at all.
func digestsMatch(ctx context.Context, sp *serverPool, conn *pgx.Conn, targets []*migTarget) (match, exists []bool, err error) {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.unquoted()
	}
	rows, err := conn.Query(ctx, `SELECT n.nspname, coalesce(d.description, '')
		FROM pg_catalog.pg_namespace n
		JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = $2 AND c.relkind = 'r'
		LEFT JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0
		WHERE n.nspname = ANY($1)`, names, MigrationsTable)
	if err != nil {
		return nil, nil, sp.classify(ctx, conn, err)
	}
	comments := map[string]string{} // schema -> history table comment, for schemas that have one
	for rows.Next() {
		var name, comment string
		if err := rows.Scan(&name, &comment); err != nil {
			rows.Close()
			return nil, nil, err
		}
		comments[name] = comment
	}
	if err := rows.Err(); err != nil {
		return nil, nil, sp.classify(ctx, conn, err)
	}
	match, exists = make([]bool, len(targets)), make([]bool, len(targets))
	for i, t := range targets {
		comment, ok := comments[names[i]]
		exists[i] = ok
		match[i] = ok && t.group != nil && comment == t.digest
	}
	return match, exists, nil
}

// survey compares the targets' histories with the Spec on conn: it sets
// each target's todo (empty: up to date) and hadHistory, and returns each
// target's own problem (a checksum mismatch, a schema a newer Spec
// migrated, a history table it cannot read). err non-nil means the
// connection failed and nothing is known. One catalog query tells, for
// every schema, whether its history table exists and whether its digest
// comment matches the Spec; only the schemas where it does not are read,
// in one pipelined round trip.
func survey(ctx context.Context, sp *serverPool, conn *pgx.Conn, targets []*migTarget) ([]error, error) {
	match, exists, err := digestsMatch(ctx, sp, conn, targets)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(targets))
	var unsure []int
	for i, t := range targets {
		switch {
		case !exists[i]:
			t.todo, t.hadHistory = t.migs, false // no history table: everything is pending, each a first application
		case match[i]:
			t.todo, t.hadHistory = nil, true
		default:
			unsure = append(unsure, i)
		}
	}
	if len(unsure) == 0 {
		return errs, nil
	}

	pipe := conn.PgConn().StartPipeline(ctx)
	for _, i := range unsure {
		t := targets[i]
		pipe.SendQueryParams("SELECT version, seq, checksum, name FROM "+t.schema+"."+MigrationsTable+" WHERE target = $1 ORDER BY version, seq",
			[][]byte{[]byte(t.name)}, nil, nil, nil)
		pipe.SendPipelineSync()
	}
	if err := pipe.Flush(); err != nil {
		_ = pipe.Close()
		return nil, sp.classify(ctx, conn, err)
	}
	defer pipe.Close()
	for _, i := range unsure {
		t := targets[i]
		history, err := readOneHistory(pipe, conn)
		if err == nil {
			var res any
			res, err = pipe.GetResults()
			if _, ok := res.(*pgconn.PipelineSync); !ok && err == nil {
				err = fmt.Errorf("migration history pipeline out of step: got %T", res)
			}
		}
		if err != nil {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) {
				return nil, sp.classify(ctx, conn, err)
			}
			// A history table of an older format, or another per-schema
			// error, stays per-schema.
			if pgErr.Code == "42703" { // undefined_column
				err = fmt.Errorf("%s.%s has the format of an older shardgen (no target or seq column); rename it and migrate again: %w", t.schema, MigrationsTable, err)
			}
			errs[i] = err
			continue
		}
		t.hadHistory = len(history) > 0
		errs[i] = t.plan(history)
	}
	return errs, nil
}

// readOneHistory reads one schema's history result from the pipeline. A
// schema or history table that does not exist yet is an empty history.
func readOneHistory(pipe *pgconn.Pipeline, conn *pgx.Conn) (map[int]*verHist, error) {
	res, err := pipe.GetResults()
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "3F000" || pgErr.Code == "42P01") {
			return nil, nil // invalid_schema_name, undefined_table
		}
		return nil, err
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		return nil, fmt.Errorf("migration history pipeline out of step: got %T", res)
	}
	history := map[int]*verHist{}
	rows := pgx.RowsFromResultReader(conn.TypeMap(), rr)
	for rows.Next() {
		var v, seq int
		var sum, name string
		if err := rows.Scan(&v, &seq, &sum, &name); err != nil {
			rows.Close()
			return nil, err
		}
		h := history[v]
		if h == nil {
			h = &verHist{seen: map[string]int{}}
			history[v] = h
		}
		// Rows come ordered by seq: the last one wins.
		h.seq, h.sum, h.name = seq, sum, name
		h.seen[sum] = seq
	}
	rows.Close()
	return history, rows.Err()
}

// plan compares the history with the Spec and sets todo: every version
// never applied, and every declarative one whose last application had
// other SQL, unless this Spec is older than the history (see
// newerError).
func (t *migTarget) plan(history map[int]*verHist) error {
	t.todo = nil // never append into t.migs, which targets share
	known := map[int]bool{}
	for _, m := range t.migs {
		known[m.Version] = true
		h, done := history[m.Version]
		switch {
		case !done:
			t.todo = append(t.todo, m)
		case h.sum == m.sum:
		case m.Declarative && m.Version == IDFunctionVersion && h.name != m.Name && h.name != IDFunctionName:
			// (A bare IDFunctionName is the history of a shardgen that
			// did not name the layout: its function is replaced.)
			return fmt.Errorf("%w: the ID function of %s was installed as %q, the Spec's is %q: a different ID layout would mint different IDs",
				ErrChecksumMismatch, t.schema, h.name, m.Name)
		case m.Declarative:
			if seq, old := h.seen[m.sum]; old {
				return &newerError{schema: t.schema, what: fmt.Sprintf("the Spec's SQL of version %d (%s) was applied as seq %d, other SQL since (seq %d)", m.Version, m.Name, seq, h.seq)}
			}
			m.seq = h.seq + 1
			t.todo = append(t.todo, m)
		default:
			return fmt.Errorf("%w: version %d (%s) of %s was applied with checksum %.12s…, the Spec's SQL has %.12s…; add a new migration instead of editing an applied one",
				ErrChecksumMismatch, m.Version, m.Name, t.schema, h.sum, m.sum)
		}
	}
	var unknown []int
	for v := range history {
		if !known[v] {
			unknown = append(unknown, v)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		t.todo = nil
		return &newerError{schema: t.schema, what: fmt.Sprintf("its history has versions %v that the Spec does not declare", unknown)}
	}
	return nil
}
