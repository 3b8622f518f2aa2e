package move_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/move"
	"github.com/shardgen/shardgen/runtime/placement"
)

var names = []string{"a", "b", "c"}

// moveTimed runs a move of shards 12-15 to server index to, finishes it,
// and returns its status and how long the copy took (from the copy phase
// to the caught-up subscription, i.e. the start of the fence).
func moveTimed(b *testing.B, f *fixture, to int) (move.Status, time.Duration) {
	opts := f.opts()
	var copyStart, copyEnd time.Time
	opts.Progress = func(p move.Progress) {
		switch {
		case p.Phase == move.PhaseCopy && copyStart.IsZero():
			copyStart = time.Now()
		case p.Phase == move.PhaseFence && copyEnd.IsZero():
			copyEnd = time.Now()
		}
	}
	st, err := move.Run(context.Background(), opts, move.Request{Group: "blog", Shards: runtime.ShardRange{First: 12, Last: 15}, To: names[to]})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := move.Finish(context.Background(), f.opts(), st.ID); err != nil {
		b.Fatal(err)
	}
	return st, copyEnd.Sub(copyStart)
}

// plainCopy copies the items tables of shards 12-15 from server from into
// scratch schemas on server to with COPY TO STDOUT | COPY FROM STDIN, one
// table after another, and drops the scratch schemas again.
func plainCopy(b *testing.B, f *fixture, from, to int) time.Duration {
	ctx := context.Background()
	src, dst := f.conn(b, from), f.conn(b, to)
	for s := 12; s <= 15; s++ {
		sc := fmt.Sprintf("plain_%d", s)
		// The destination no longer has the shards (they moved away), so
		// the scratch table is declared as the fixture's items table.
		if _, err := dst.Exec(ctx, fmt.Sprintf("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; CREATE TABLE %s.items (id bigint PRIMARY KEY, k bigint NOT NULL, v text NOT NULL, at timestamptz NOT NULL)", sc, sc, sc)); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	for s := 12; s <= 15; s++ {
		for _, tbl := range []string{"items"} {
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				_, err := src.PgConn().CopyTo(ctx, pw, fmt.Sprintf("COPY blog_%04d.%s TO STDOUT", s, tbl))
				pw.CloseWithError(err)
				done <- err
			}()
			if _, err := dst.PgConn().CopyFrom(ctx, pr, fmt.Sprintf("COPY plain_%d.%s FROM STDIN", s, tbl)); err != nil {
				b.Fatal(err)
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
	}
	el := time.Since(start)
	for s := 12; s <= 15; s++ {
		if _, err := dst.Exec(ctx, fmt.Sprintf("DROP SCHEMA plain_%d CASCADE", s)); err != nil {
			b.Fatal(err)
		}
	}
	return el
}

// BenchmarkMoveCopy moves shards 12-15 (rows rows of ~130 bytes) between b
// and c, back and forth, and in the same run copies the same tables
// between the same two servers with a plain COPY; it reports both in rows/s
// and MB/s, and their ratio (move / plain). -short uses a small data set.
func BenchmarkMoveCopy(b *testing.B) {
	rows := 400_000
	if testing.Short() {
		rows = 20_000
	}
	f := newFixture(b, 16)
	ctx := context.Background()
	fill := f.conn(b, 1)
	for s := 12; s <= 15; s++ {
		if _, err := fill.Exec(ctx, fmt.Sprintf("INSERT INTO blog_%04d.items (k, v) SELECT g, repeat('x', 100) FROM generate_series(1, %d) g", s, rows/4)); err != nil {
			b.Fatal(err)
		}
	}
	var size int64
	if err := fill.QueryRow(ctx, "SELECT sum(pg_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'blog_001%' AND c.relname = 'items'").Scan(&size); err != nil {
		b.Fatal(err)
	}
	var moveD, plainD time.Duration
	n := 0
	from, to := 1, 2
	for b.Loop() {
		_, d := moveTimed(b, f, to)
		moveD += d
		plainD += plainCopy(b, f, to, from)
		from, to = to, from
		n++
	}
	mv, pl := moveD.Seconds()/float64(n), plainD.Seconds()/float64(n)
	b.ReportMetric(float64(rows)/mv, "move_rows/s")
	b.ReportMetric(float64(size)/(1<<20)/mv, "move_MB/s")
	b.ReportMetric(float64(rows)/pl, "copy_rows/s")
	b.ReportMetric(float64(size)/(1<<20)/pl, "copy_MB/s")
	b.ReportMetric(pl/mv, "move/copy")
}

// BenchmarkMoveWritePause runs 8 writers over the 16 shards while shards
// 12-15 move back and forth, and reports the latency of the writes that
// were in flight between the fence and the switch (the pause the
// application sees): p50, p99 and max, over every iteration.
func BenchmarkMoveWritePause(b *testing.B) {
	f := newFixture(b, 16)
	ctx := context.Background()
	r := f.router(b)
	fo, err := placement.Follow(ctx, r, f.cfg.Databases["default"], placement.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer fo.Close()
	g, _ := r.Group("blog")
	ins := g.Prepare("INSERT INTO @schema@.items (k, v) VALUES ($1, 'x')")
	var (
		mu   sync.Mutex
		lat  []opLat
		stop atomic.Bool
		wg   sync.WaitGroup
	)
	for w := range 8 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 3))
			for !stop.Load() {
				start := time.Now()
				if _, err := g.At(runtime.Shard(rnd.IntN(16))).Exec(ctx, ins, int64(w)); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, opLat{start, time.Since(start)})
				mu.Unlock()
			}
		})
	}
	var pauses []time.Duration
	to := 2
	for b.Loop() {
		st, _ := moveTimed(b, f, to)
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		for _, l := range lat {
			if l.start.Add(l.d).After(st.State.FencedAt) && l.start.Before(st.State.SwitchAt.Add(100*time.Millisecond)) {
				pauses = append(pauses, l.d)
			}
		}
		lat = lat[:0]
		mu.Unlock()
		to = 3 - to
	}
	stop.Store(true)
	wg.Wait()
	if len(pauses) == 0 {
		return
	}
	slices.Sort(pauses)
	q := func(p float64) float64 {
		return float64(pauses[min(len(pauses)-1, int(p*float64(len(pauses))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.5), "pause_p50_ms")
	b.ReportMetric(q(0.99), "pause_p99_ms")
	b.ReportMetric(float64(pauses[len(pauses)-1])/float64(time.Millisecond), "pause_max_ms")
}
