package runtime

import (
	"context"
	"fmt"
	"iter"
	"sync"

	"github.com/jackc/pgx/v5"
)

// This file is the stream over every row of a model, for jobs and
// backfills (the seed's add_everything: chunks of 1,000, then the next):
// the generated StreamAllShards (sharded models) and Stream (database
// models) are StreamGroup and StreamTarget with the model's statement and
// scan function.

// Stream bounds.
const (
	// DefaultStreamChunk is the number of rows a stream reads per statement
	// when StreamOptions.Chunk is 0.
	DefaultStreamChunk = 1000
	// MaxStreamChunk bounds StreamOptions.Chunk.
	MaxStreamChunk = 10000
	// MaxStreamParallel bounds StreamOptions.Parallel.
	MaxStreamParallel = 64
)

// StreamOptions shape a stream over every row of a model.
type StreamOptions struct {
	// Chunk is how many rows one statement reads (keyset-paged by ID, so
	// every chunk costs the same): 0 means DefaultStreamChunk, values above
	// MaxStreamChunk are MaxStreamChunk.
	Chunk int
	// Parallel is how many shards are read at once: 0 or 1 read one shard
	// at a time, more read the next Parallel-1 shards ahead, each at most
	// one chunk ahead of the loop (at most MaxStreamParallel). Rows come in
	// the same order either way; memory stays within about 2*Parallel+1
	// chunks.
	Parallel int
	// From resumes a stream where an earlier one stopped: only the rows
	// after it are read. The zero Cursor is the start.
	From Cursor
	// Progress, when not nil, is kept up to date in the loop's goroutine
	// as rows are handed out, so the loop body (or the code after the loop,
	// after a break or an error) can read and persist it.
	Progress *StreamProgress
}

// Cursor is a position in a stream: every row of the shards before Shard,
// and the rows of Shard up to and including ID After, have been handled.
// It is a plain value, so a job can persist it (two integers) and pass it
// back as StreamOptions.From to resume. On a database the one "shard" is
// 0. IDs are positive, so After 0 is the start of a shard.
type Cursor struct {
	Shard Shard
	After int64
}

// StreamProgress is how far a stream is.
type StreamProgress struct {
	// Cursor is the position after the last row whose loop iteration
	// completed (it did not break): resuming from it hands out again the
	// row a break or a crash happened at, so a job sees every row at least
	// once.
	Cursor Cursor
	// Shards is the number of shards the stream visits (the group's count,
	// 1 for a database); ShardsDone how many are finished, counting those
	// before StreamOptions.From.
	Shards     int
	ShardsDone int
	// Rows counts the rows whose iteration completed in this stream.
	Rows int64
}

func (o StreamOptions) chunk() int {
	switch {
	case o.Chunk <= 0:
		return DefaultStreamChunk
	case o.Chunk > MaxStreamChunk:
		return MaxStreamChunk
	}
	return o.Chunk
}

func (o StreamOptions) parallel() int { return min(max(o.Parallel, 1), MaxStreamParallel) }

// StreamGroup yields every row of a sharded model, shard after shard
// (0, 1, ...) and by ascending ID within a shard, reading chunks of
// opts.Chunk rows with q, a statement of the group taking the last ID read
// ($1) and the chunk size ($2) ("SELECT ... FROM @schema@.t WHERE id > $1
// ORDER BY id LIMIT $2"). scan reads one row into a T and id returns its
// ID. A connection is held only while a chunk is read, never while the
// loop body runs, so breaking out of the loop leaks nothing. The first
// error (a *ShardError) is yielded with a nil row and ends the stream;
// opts.Progress then says where to resume. Rows of one chunk share one
// allocation.
func StreamGroup[T any](ctx context.Context, g *Group, q *Query, opts StreamOptions, scan func(pgx.Row, *T) error, id func(*T) int64) iter.Seq2[*T, error] {
	return stream(ctx, g.nShards, g.At, q, opts, scan, id)
}

// StreamTarget is StreamGroup for the rows of one target, a database (the
// generated Stream of a database model) or one shard: one "shard", 0.
func StreamTarget[T any](ctx context.Context, t Target, q *Query, opts StreamOptions, scan func(pgx.Row, *T) error, id func(*T) int64) iter.Seq2[*T, error] {
	return stream(ctx, 1, func(Shard) Target { return t }, q, opts, scan, id)
}

// chunkOf is one chunk read ahead by a worker of a parallel stream.
type chunkOf[T any] struct {
	rows []T
	err  error
}

func stream[T any](ctx context.Context, n int, at func(Shard) Target, q *Query, opts StreamOptions, scan func(pgx.Row, *T) error, id func(*T) int64) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		size, par := opts.chunk(), opts.parallel()
		p := opts.Progress
		if p == nil {
			p = new(StreamProgress)
		}
		from := opts.From
		*p = StreamProgress{Cursor: from, Shards: n, ShardsDone: min(max(int(from.Shard), 0), n)}
		if from.Shard < 0 {
			yield(nil, fmt.Errorf("%w: stream cursor at shard %d", ErrWrongShard, from.Shard))
			return
		}
		// each hands out the rows of one chunk of shard s; false when the
		// loop broke.
		each := func(s Shard, rows []T) bool {
			for i := range rows {
				if !yield(&rows[i], nil) {
					return false
				}
				p.Cursor = Cursor{Shard: s, After: id(&rows[i])}
				p.Rows++
			}
			return true
		}
		shardDone := func(s Shard) {
			p.ShardsDone++
			p.Cursor = Cursor{Shard: s + 1}
		}
		after := func(s Shard) int64 {
			if s == from.Shard {
				return from.After
			}
			return 0
		}
		if par == 1 {
			for s := from.Shard; int(s) < n; s++ {
				last := after(s)
				for {
					rows, err := readChunk(ctx, at(s), q, last, size, scan)
					if err != nil {
						yield(nil, err)
						return
					}
					if !each(s, rows) {
						return
					}
					if len(rows) < size {
						break
					}
					last = id(&rows[len(rows)-1])
				}
				shardDone(s)
			}
			return
		}
		// Parallel: a window of par shards, each read by a worker that
		// stays at most one chunk ahead (a channel of one); the loop takes
		// the shards in order and starts the next worker as one finishes.
		// Stopping does not cancel a worker's statement (which would cost
		// its connection): the chunk being read, at most one per worker,
		// is read to its end and dropped. Waiting for the workers means
		// that when the stream returns every connection it took is back
		// in its pool.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		defer func() {
			close(stop)
			wg.Wait()
		}()
		chans := make([]chan chunkOf[T], n)
		start := func(s Shard) {
			if int(s) >= n {
				return
			}
			ch := make(chan chunkOf[T], 1)
			chans[s] = ch
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(ch)
				last := after(s)
				for {
					rows, err := readChunk(ctx, at(s), q, last, size, scan)
					select {
					case ch <- chunkOf[T]{rows, err}:
					case <-stop:
						return
					}
					if err != nil || len(rows) < size {
						return
					}
					last = id(&rows[len(rows)-1])
				}
			}()
		}
		for s := from.Shard; int(s) < n && int(s) < int(from.Shard)+par; s++ {
			start(s)
		}
		for s := from.Shard; int(s) < n; s++ {
			for c := range chans[s] {
				if c.err != nil {
					yield(nil, c.err)
					return
				}
				if !each(s, c.rows) {
					return
				}
			}
			chans[s] = nil
			shardDone(s)
			start(s + Shard(par))
		}
	}
}

// readChunk reads up to size rows with ID > after from t, in one round
// trip, into one allocation.
func readChunk[T any](ctx context.Context, t Target, q *Query, after int64, size int, scan func(pgx.Row, *T) error) ([]T, error) {
	rows, err := t.Query(ctx, q, after, size)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		if out == nil {
			out = make([]T, 0, size)
		}
		out = append(out, *new(T))
		if err := scan(rows, &out[len(out)-1]); err != nil {
			return nil, t.fail(fmt.Errorf("read row: %w", err))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
