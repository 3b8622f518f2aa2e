package runtime

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

type streamItem struct{ ID int64 }

func scanStreamItem(row pgx.Row, d *streamItem) error { return row.Scan(&d.ID) }

func streamItemID(d *streamItem) int64 { return d.ID }

// streamRows is the number of rows of shard s in the stream tests: shard 0
// is empty, shard 7 holds exactly three chunks of 7, the rest in between.
func streamRows(s Shard) int { return int(s) * 3 }

// openStream opens group g of 16 shards over two throwaway servers (0-7 and
// 8-15), each shard's items table holding ids 1..streamRows(s).
func openStream(t *testing.T) (*Router, *Group, *Query) {
	t.Helper()
	_, urls := pgtest.NewDatabase(t, 2, "stream")
	r := openSplit(t, Spec{Groups: []GroupSpec{{Name: "g", Shards: 16}}}, urls, PoolConfig{})
	g, _ := r.Group("g")
	createShardTables(t, g, streamRows)
	return r, g, g.Prepare(`SELECT id FROM @schema@.items WHERE id > $1 ORDER BY id LIMIT $2`)
}

// wantStream is every (shard, id) after c in stream order.
func wantStream(c Cursor) []Cursor {
	var out []Cursor
	for s := c.Shard; s < 16; s++ {
		for id := int64(1); id <= int64(streamRows(s)); id++ {
			if s == c.Shard && id <= c.After {
				continue
			}
			out = append(out, Cursor{s, id})
		}
	}
	return out
}

// collectStream runs a stream to its end, or breaks after stop rows
// (stop < 0: never), and returns the rows seen with the shard each came
// from (the group's schema is per shard, so the cursor says which).
func collectStream(t *testing.T, g *Group, q *Query, opts StreamOptions, stop int) ([]Cursor, StreamProgress) {
	t.Helper()
	var p StreamProgress
	opts.Progress = &p
	var got []Cursor
	for row, err := range StreamGroup(context.Background(), g, q, opts, scanStreamItem, streamItemID) {
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		if stop >= 0 && len(got) == stop {
			break
		}
		// The progress is that of the previous row, or the start of this
		// row's shard when the previous row ended a shard: either way its
		// shard is this row's.
		got = append(got, Cursor{p.Cursor.Shard, row.ID})
	}
	return got, p
}

func idle(t *testing.T, r *Router) {
	t.Helper()
	for _, st := range r.Stats() {
		if st.AcquiredConns != 0 {
			t.Errorf("pool %s: %d connections still acquired after the stream returned", st.Addr, st.AcquiredConns)
		}
	}
}

// TestStream streams group g of two servers (one pair of servers for the
// subtests, which run in order: the last one drops a table).
func TestStream(t *testing.T) {
	r, g, q := openStream(t)
	t.Run("EveryRowInOrder", func(t *testing.T) { streamEveryRowInOrder(t, r, g, q) })
	t.Run("BreakAndResume", func(t *testing.T) { streamBreakAndResume(t, r, g, q) })
	t.Run("ShardFails", func(t *testing.T) { streamShardFails(t, r, g, q) })
}

func streamEveryRowInOrder(t *testing.T, r *Router, g *Group, q *Query) {
	want := wantStream(Cursor{})
	for _, par := range []int{0, 1, 4, 16, 100} {
		t.Run(fmt.Sprintf("parallel=%d", par), func(t *testing.T) {
			got, p := collectStream(t, g, q, StreamOptions{Chunk: 7, Parallel: par}, -1)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("rows:\n%v\nwant\n%v", got, want)
			}
			if p != (StreamProgress{Cursor: Cursor{Shard: 16}, Shards: 16, ShardsDone: 16, Rows: int64(len(want))}) {
				t.Errorf("progress at the end: %+v", p)
			}
			idle(t, r)
		})
	}
	// The default chunk reads each shard in one statement.
	got, _ := collectStream(t, g, q, StreamOptions{}, -1)
	if len(got) != len(want) {
		t.Fatalf("default chunk: %d rows, want %d", len(got), len(want))
	}
}

// streamBreakAndResume breaks out of a stream in the middle of a chunk,
// checks that no connection stays taken, and resumes from the persisted
// cursor: the rows after it, starting with the one the break left.
func streamBreakAndResume(t *testing.T, r *Router, g *Group, q *Query) {
	all := wantStream(Cursor{})
	for _, par := range []int{1, 3} {
		t.Run(fmt.Sprintf("parallel=%d", par), func(t *testing.T) {
			opts := StreamOptions{Chunk: 5, Parallel: par}
			const stop = 40 // inside shard 5 (rows 1-15 of shard 5 are 31-45)
			got, p := collectStream(t, g, q, opts, stop)
			if fmt.Sprint(got) != fmt.Sprint(all[:stop]) {
				t.Fatalf("before the break:\n%v\nwant\n%v", got, all[:stop])
			}
			if p.Cursor != all[stop-1] || p.Rows != stop || p.ShardsDone != 5 || p.Shards != 16 {
				t.Fatalf("progress at the break: %+v, want cursor %v after %d rows, 5 shards done", p, all[stop-1], stop)
			}
			idle(t, r)
			// Resume from the cursor a job would have persisted.
			opts.From = p.Cursor
			rest, p2 := collectStream(t, g, q, opts, -1)
			if fmt.Sprint(rest) != fmt.Sprint(all[stop:]) {
				t.Fatalf("resumed:\n%v\nwant\n%v", rest, all[stop:])
			}
			if p2.ShardsDone != 16 || p2.Rows != int64(len(all)-stop) {
				t.Errorf("progress after resuming: %+v", p2)
			}
			idle(t, r)
		})
	}
	// A cursor at a shard boundary, and one past the end.
	rest, _ := collectStream(t, g, q, StreamOptions{From: Cursor{Shard: 15}}, -1)
	if fmt.Sprint(rest) != fmt.Sprint(wantStream(Cursor{Shard: 15})) {
		t.Errorf("from shard 15: %v", rest)
	}
	if rest, p := collectStream(t, g, q, StreamOptions{From: Cursor{Shard: 16}}, -1); len(rest) != 0 || p.ShardsDone != 16 {
		t.Errorf("from the end: %v, %+v", rest, p)
	}
}

// streamShardFails ends the stream with the failing shard's error and
// a cursor at the start of that shard.
func streamShardFails(t *testing.T, r *Router, g *Group, q *Query) {
	if _, err := g.At(9).Exec(context.Background(), g.Prepare(`DROP TABLE @schema@.items`)); err != nil {
		t.Fatal(err)
	}
	for _, par := range []int{1, 4} {
		var p StreamProgress
		var n int
		var gotErr error
		for _, err := range StreamGroup(context.Background(), g, q, StreamOptions{Chunk: 4, Parallel: par, Progress: &p}, scanStreamItem, streamItemID) {
			if err != nil {
				gotErr = err
				continue // the stream ends after its error: the loop must not see another row
			}
			if gotErr != nil {
				t.Fatal("a row after the error")
			}
			n++
		}
		var se *ShardError
		if !errors.As(gotErr, &se) || se.Shard != 9 || !errors.Is(gotErr, ErrNotMigrated) {
			t.Fatalf("parallel %d: error %v, want a ShardError of shard 9 (ErrNotMigrated)", par, gotErr)
		}
		if want := len(wantStream(Cursor{})) - len(wantStream(Cursor{Shard: 9})); n != want || p.Cursor != (Cursor{Shard: 9}) || p.ShardsDone != 9 {
			t.Fatalf("parallel %d: %d rows, progress %+v; want %d rows and the cursor at shard 9", par, n, p, want)
		}
		idle(t, r)
	}
	for _, err := range StreamGroup(context.Background(), g, q, StreamOptions{From: Cursor{Shard: -1}}, scanStreamItem, streamItemID) {
		if !errors.Is(err, ErrWrongShard) {
			t.Fatalf("cursor at shard -1: %v, want ErrWrongShard", err)
		}
	}
}

func TestStreamOptionsBounds(t *testing.T) {
	for _, c := range []struct{ in, chunk, par int }{{0, DefaultStreamChunk, 1}, {-5, DefaultStreamChunk, 1}, {3, 3, 3}, {1 << 20, MaxStreamChunk, MaxStreamParallel}} {
		o := StreamOptions{Chunk: c.in, Parallel: c.in}
		if o.chunk() != c.chunk || o.parallel() != c.par {
			t.Errorf("%d: chunk %d parallel %d, want %d %d", c.in, o.chunk(), o.parallel(), c.chunk, c.par)
		}
	}
}
