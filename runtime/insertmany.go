package runtime

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RowsToken marks, in the text of an InsertMany statement, where the VALUES
// tuples of the rows go: `INSERT INTO @schema@."items" ("user_id", "title")
// VALUES @rows@ RETURNING "id"`. The runtime writes one tuple of bind
// parameters per row, ($1, $2), ($3, $4), ..., or (DEFAULT) for a table
// whose only column is its minted ID.
const RowsToken = "@rows@"

// maxBindParams is PostgreSQL's limit on the parameters of one statement.
const maxBindParams = 65535

// InsertRows describes the rows of one InsertMany call; generated code fills
// it from a slice of model structs.
type InsertRows struct {
	// N is the number of rows.
	N int
	// Cols is the number of values of each row (the statement's columns).
	Cols int
	// Shards holds the logical shard of each row (len N); nil on a
	// database.
	Shards []Shard
	// Args appends the Cols values of row i to dst and returns it.
	Args func(i int, dst []any) []any
	// SetID receives the ID the database minted for row i.
	SetID func(i int, id int64)
}

// insertBatch is the statements of one server: each the rows (indices) of
// one shard, at most maxBindParams values per statement.
type insertStmt struct {
	shard Shard
	rows  []int
}

// InsertMany inserts rows into the group's shards: the rows of one shard as
// multi-row INSERT statements (q's text with RowsToken replaced by one tuple
// per row), the statements of one server as one pipeline ending in a single
// Sync (one round trip, one implicit transaction: a server's rows are all
// written or none is), servers in parallel. The IDs the database mints are
// handed to rows.SetID in the order of the RETURNING clause, which is the
// order of the VALUES tuples.
//
// With tx not nil every row must be on tx's shard (generated code refuses
// others before calling) and the statements run in the transaction.
//
// When a server fails, the rows of the other servers are still written and
// the error is a *FanOutError listing the shards of the failed server; the
// rows of a failed server got no ID (SetID was not called for them).
func (g *Group) InsertMany(ctx context.Context, tx *Tx, q *Query, rows InsertRows) error {
	if err := g.checkInsert(q, rows); err != nil {
		return err
	}
	if rows.N == 0 {
		return nil
	}
	if tx != nil {
		for i, s := range rows.Shards {
			if s != tx.Shard() {
				return tx.t.fail(fmt.Errorf("%w: row %d is on shard %d, the transaction on shard %d", ErrWrongShard, i, s, tx.Shard()))
			}
		}
		stmts := splitInsert(tx.Shard(), seq(rows.N), rows.Cols)
		return tx.t.insertOn(ctx, tx.tx.Conn(), q, rows, stmts)
	}
	// Rows by shard in the order first seen, shards by pool.
	byShard := map[Shard][]int{}
	var shards []Shard
	for i, s := range rows.Shards {
		if s < 0 || int(s) >= g.nShards {
			t := g.At(s)
			return t.fail(fmt.Errorf("%w: row %d is on shard %d, outside group %s (0-%d)", ErrWrongShard, i, s, g.name, g.nShards-1))
		}
		if _, ok := byShard[s]; !ok {
			shards = append(shards, s)
		}
		byShard[s] = append(byShard[s], i)
	}
	table := g.table.Load()
	byPool := map[*serverPool][]insertStmt{}
	var order []*serverPool
	for _, s := range shards {
		sp := table.byShard[s].pool
		if _, ok := byPool[sp]; !ok {
			order = append(order, sp)
		}
		byPool[sp] = append(byPool[sp], splitInsert(s, byShard[s], rows.Cols)...)
	}
	var (
		mu     sync.Mutex
		failed []*ShardError
		wg     sync.WaitGroup
	)
	for _, sp := range order {
		wg.Go(func() {
			stmts := byPool[sp]
			err := g.insertServer(ctx, sp, q, rows, stmts)
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			seen := map[Shard]bool{}
			for _, st := range stmts {
				if !seen[st.shard] {
					seen[st.shard] = true
					t := g.At(st.shard)
					failed = append(failed, t.fail(err))
				}
			}
		})
	}
	wg.Wait()
	if len(failed) == 0 {
		return nil
	}
	slices.SortStableFunc(failed, func(a, b *ShardError) int { return int(a.Shard - b.Shard) })
	return &FanOutError{Group: g.name, Failed: failed}
}

// InsertMany inserts rows into the target (a named database, or one logical
// shard) in one round trip: several statements in one pipeline when the
// rows need more than PostgreSQL's 65,535 parameters. rows.Shards must be
// nil. With tx not nil (a transaction on this target) the statements run in
// it. See Group.InsertMany.
func (t Target) InsertMany(ctx context.Context, tx *Tx, q *Query, rows InsertRows) error {
	if _, err := t.sql(q); err != nil {
		return err
	}
	if rows.Shards != nil || rows.Args == nil || rows.SetID == nil {
		return t.fail(fmt.Errorf("insert many: InsertRows needs Args and SetID, and no Shards on a single target"))
	}
	if rows.N == 0 {
		return nil
	}
	stmts := splitInsert(t.shard, seq(rows.N), rows.Cols)
	if tx != nil {
		return tx.t.insertOn(ctx, tx.tx.Conn(), q, rows, stmts)
	}
	sp := t.srv.pool
	c, err := sp.acquire(ctx)
	if err != nil {
		return t.fail(err)
	}
	defer sp.release(c)
	return t.insertOn(ctx, c.Conn(), q, rows, stmts)
}

func (g *Group) checkInsert(q *Query, rows InsertRows) error {
	switch {
	case q == nil || q.group != g:
		return &ShardError{Group: g.name, Shard: -1, Err: fmt.Errorf("%w: insert many on group %s with a query prepared for another group or database", ErrWrongShard, g.name)}
	case q.err != nil:
		return &ShardError{Group: g.name, Shard: -1, Err: q.err}
	case len(rows.Shards) != rows.N || rows.Args == nil || rows.SetID == nil:
		return &ShardError{Group: g.name, Shard: -1, Err: fmt.Errorf("insert many on group %s: InsertRows needs a shard per row, Args and SetID", g.name)}
	}
	return nil
}

// insertServer runs the statements of one server on one of its pooled
// connections.
func (g *Group) insertServer(ctx context.Context, sp *serverPool, q *Query, rows InsertRows, stmts []insertStmt) error {
	c, err := sp.acquire(ctx)
	if err != nil {
		return err
	}
	defer sp.release(c)
	t := g.At(stmts[0].shard)
	if err := t.insertOn(ctx, c.Conn(), q, rows, stmts); err != nil {
		if se, ok := err.(*ShardError); ok {
			return se.Err
		}
		return err
	}
	return nil
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// splitInsert cuts the rows of one shard into statements of at most
// maxBindParams parameters.
func splitInsert(s Shard, idx []int, cols int) []insertStmt {
	per := len(idx)
	if cols > 0 {
		per = maxBindParams / cols
	}
	var out []insertStmt
	for len(idx) > 0 {
		n := min(per, len(idx))
		out = append(out, insertStmt{shard: s, rows: idx[:n:n]})
		idx = idx[n:]
	}
	return out
}

// insertText is q's text for shard s with RowsToken replaced by n tuples of
// cols parameters each.
func insertText(q *Query, s Shard, n, cols int) (string, error) {
	var text string
	if q.db != nil {
		text = *q.texts[0].Load()
	} else {
		text = q.text(s)
	}
	head, tail, ok := strings.Cut(text, RowsToken)
	if !ok {
		return "", fmt.Errorf("insert many: statement has no %s: %q", RowsToken, q.sql)
	}
	var b strings.Builder
	b.Grow(len(head) + len(tail) + n*(cols*8+4))
	b.WriteString(head)
	p := 1
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		if cols == 0 {
			b.WriteString("DEFAULT")
		}
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(p))
			p++
		}
		b.WriteByte(')')
	}
	b.WriteString(tail)
	return b.String(), nil
}

// unknownOIDs are n parameter types left for the server to infer (0), as
// QueryExecModeExec leaves them. Sending them rather than none matters:
// PostgreSQL grows its array of inferred types one parameter at a time when
// the Parse message declares fewer than the statement uses, which costs time
// quadratic in the parameters (measured on 1,000 rows of 5 columns, one
// statement: 48-60 ms with the types sent, 63-73 ms without).
func unknownOIDs(n int) []uint32 { return make([]uint32, n) }

// insertOn sends stmts on conn as one pipeline with one Sync and reads the
// minted IDs. Every statement is an unnamed one (its text depends on the
// number of rows, so caching it would only fill the statement cache), its
// arguments encoded from their Go types as QueryExecModeExec does. Errors
// are *ShardError of t.
func (t Target) insertOn(ctx context.Context, conn *pgx.Conn, q *Query, rows InsertRows, stmts []insertStmt) error {
	sp := t.srv.pool
	ctx = t.traced(ctx)
	pipe := conn.PgConn().StartPipeline(ctx)
	args := make([]any, 0, rows.Cols*len(stmts[0].rows))
	var eqb pgx.ExtendedQueryBuilder
	for _, st := range stmts {
		text, err := insertText(q, st.shard, len(st.rows), rows.Cols)
		if err != nil {
			_ = pipe.Close()
			return t.fail(err)
		}
		args = args[:0]
		for _, i := range st.rows {
			args = rows.Args(i, args)
		}
		if len(args) != rows.Cols*len(st.rows) {
			_ = pipe.Close()
			return t.fail(fmt.Errorf("insert many: %d values for %d rows of %d columns", len(args), len(st.rows), rows.Cols))
		}
		if err := eqb.Build(conn.TypeMap(), nil, args); err != nil {
			_ = pipe.Close()
			return t.fail(fmt.Errorf("insert many: encode arguments: %w", err))
		}
		// ParamValues is reused by the next Build: the pipeline copies
		// them into its send buffer here.
		pipe.SendQueryParams(text, eqb.ParamValues, unknownOIDs(len(args)), eqb.ParamFormats, eqb.ResultFormats)
	}
	clear(args)
	pipe.SendPipelineSync()
	if err := pipe.Flush(); err != nil {
		_ = pipe.Close()
		return t.fail(sp.classify(ctx, conn, err))
	}
	// IDs are handed out only once the Sync confirmed the whole pipeline,
	// so that a failure leaves every row of this server without an ID.
	ids := make([]int64, 0, len(stmts[0].rows))
	var perStmt []int
	var firstErr error
	for _, st := range stmts {
		res, err := pipe.GetResults()
		if err != nil {
			firstErr = err
			break
		}
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			firstErr = fmt.Errorf("insert many: pipeline out of step: got %T", res)
			break
		}
		n := 0
		for rr.NextRow() {
			id, err := strconv.ParseInt(string(rr.Values()[0]), 10, 64)
			if err != nil {
				_, _ = rr.Close()
				firstErr = fmt.Errorf("insert many: minted ID %q: %w", rr.Values()[0], err)
				break
			}
			ids = append(ids, id)
			n++
		}
		if _, err := rr.Close(); err != nil && firstErr == nil {
			firstErr = err
		}
		if firstErr != nil {
			break
		}
		if n != len(st.rows) {
			firstErr = fmt.Errorf("insert many: %d IDs returned for %d rows", n, len(st.rows))
			break
		}
		perStmt = append(perStmt, n)
	}
	if firstErr == nil {
		res, err := pipe.GetResults()
		if _, ok := res.(*pgconn.PipelineSync); !ok && err == nil {
			err = fmt.Errorf("insert many: pipeline out of step: got %T, want a Sync", res)
		}
		firstErr = err
	}
	if err := pipe.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		return t.fail(sp.classify(ctx, conn, firstErr))
	}
	k := 0
	for j, st := range stmts {
		for _, i := range st.rows[:perStmt[j]] {
			rows.SetID(i, ids[k])
			k++
		}
	}
	return nil
}
