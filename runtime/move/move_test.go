package move_test

import (
	"context"
	"errors"
	"fmt"
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

type acked struct {
	id, k int64
	shard runtime.Shard
}

// TestMoveUnderLoad moves shards 12-15 of 16 from b to c while 8 writers
// and 4 readers run, then moves them back.
func TestMoveUnderLoad(t *testing.T) {
	f := newFixture(t, 16)
	ctx := context.Background()
	r := f.router(t)
	fo, err := placement.Follow(ctx, r, f.cfg.Databases["default"], placement.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	g, _ := r.Group("blog")
	ins := g.Prepare("INSERT INTO @schema@.items (k, v) VALUES ($1, 'x') RETURNING id")
	get := g.Prepare("SELECT k FROM @schema@.items WHERE id = $1")

	var (
		mu      sync.Mutex
		written []acked
		next    atomic.Int64
		stop    atomic.Bool
		errs    = make(chan error, 100)
		lat     []opLat
	)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for !stop.Load() {
				k := next.Add(1)
				s := runtime.Shard(rnd.IntN(16))
				start := time.Now()
				var id int64
				err := g.At(s).QueryRow(ctx, ins, k).Scan(&id)
				el := time.Since(start)
				if err != nil {
					errs <- fmt.Errorf("write k=%d shard %d: %w", k, s, err)
					return
				}
				mu.Lock()
				written = append(written, acked{id, k, s})
				lat = append(lat, opLat{start, el})
				mu.Unlock()
			}
		})
	}
	for rd := range 4 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(rd), 2))
			for !stop.Load() {
				mu.Lock()
				n := len(written)
				var a acked
				if n > 0 {
					a = written[rnd.IntN(n)]
				}
				mu.Unlock()
				if n == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				var k int64
				if err := g.At(a.shard).QueryRow(ctx, get, a.id).Scan(&k); err != nil || k != a.k {
					errs <- fmt.Errorf("read id %d (shard %d, k %d): got k %d, %v", a.id, a.shard, a.k, k, err)
					return
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	opts := f.opts()
	var phases []string
	opts.Progress = func(p move.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	}
	st, err := move.Run(ctx, opts, move.Request{Group: "blog", Shards: runtime.ShardRange{First: 12, Last: 15}, To: "c"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st.Phase != move.PhaseDone {
		t.Fatalf("phase %s, want done", st.Phase)
	}
	t.Logf("phases: %v; %d rows verified", phases, st.State.Rows)
	for s := runtime.Shard(0); s < 16; s++ {
		want := "a"
		if s >= 8 {
			want = "b"
		}
		if s >= 12 {
			want = "c"
		}
		if got := g.ServerOf(s).Name(); got != want {
			t.Errorf("shard %d on %s, want %s", s, got, want)
		}
	}

	// Every acknowledged write of the moved shards is on c; the old copy
	// on b holds nothing committed after the fence.
	onC := f.rows(t, 2, schemas(12, 15, ""))
	onB := f.rows(t, 1, schemas(12, 15, fmt.Sprintf("shardgen_moved_%d_", st.ID)))
	moved := 0
	for _, a := range written {
		if a.shard < 12 {
			continue
		}
		moved++
		if k, ok := onC[a.id]; !ok || k != a.k {
			t.Errorf("acknowledged write id %d k %d (shard %d) is not on c", a.id, a.k, a.shard)
		}
	}
	for id, k := range onB {
		if onC[id] != k {
			t.Errorf("row %d on b's old copy is not on c", id)
		}
	}
	var lastB time.Time
	if err := f.conn(t, 1).QueryRow(ctx, "SELECT max(at) FROM ("+unionAll(schemas(12, 15, fmt.Sprintf("shardgen_moved_%d_", st.ID)))+") x").Scan(&lastB); err != nil {
		t.Fatal(err)
	}
	if !lastB.Before(st.State.FencedAt) {
		t.Errorf("a row on b was written at %s, after the fence at %s", lastB, st.State.FencedAt)
	}
	t.Logf("%d writes acknowledged (%d on moved shards, %d on b before the fence); b's last write %s before the fence",
		len(written), moved, len(onB), st.State.FencedAt.Sub(lastB).Round(time.Microsecond))
	reportPause(t, lat, st)

	// IDs minted on c never collide with b's and come after them.
	for s := runtime.Shard(12); s <= 15; s++ {
		for range 50 {
			var id int64
			if err := g.At(s).QueryRow(ctx, ins, int64(-1)).Scan(&id); err != nil {
				t.Fatal(err)
			}
			if _, dup := onB[id]; dup {
				t.Fatalf("ID %d minted on c was minted on b", id)
			}
			for bid := range onB {
				if runtime.DefaultLayout().Shard(bid) == s && bid >= id {
					t.Fatalf("ID %d minted on c for shard %d is not after b's %d", id, s, bid)
				}
			}
		}
	}

	// A migration while nothing moves is fine; then move the shards back.
	if err := runtime.Migrate(ctx, r, f.spec, runtime.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := f.rows(t, 2, schemas(12, 15, ""))
	back, err := move.Run(ctx, f.opts(), move.Request{Group: "blog", Shards: runtime.ShardRange{First: 12, Last: 15}, To: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := fo.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := g.ServerOf(12).Name(); got != "b" {
		t.Fatalf("after moving back shard 12 is on %s", got)
	}
	after := f.rows(t, 1, schemas(12, 15, ""))
	if len(after) != len(before) {
		t.Fatalf("moved back %d rows, had %d", len(after), len(before))
	}
	for _, id := range []int64{st.ID, back.ID} {
		if _, err := move.Finish(ctx, f.opts(), id); err != nil {
			t.Fatal(err)
		}
	}
	f.noArtifacts(t)
	var left int
	for i := 1; i <= 2; i++ {
		if err := f.conn(t, i).QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'shardgen_moved_%'").Scan(&left); err != nil || left != 0 {
			t.Errorf("server %d keeps %d old copies after finish (%v)", i, left, err)
		}
	}
}

func unionAll(schemas []string) string {
	s := ""
	for i, x := range schemas {
		if i > 0 {
			s += " UNION ALL "
		}
		s += "SELECT at FROM " + runtime.QuoteIdent(x) + ".items"
	}
	return s
}

type opLat struct {
	start time.Time
	d     time.Duration
}

// reportPause logs the latency of writes that were in flight between the
// fence and the switch: the write pause the move caused.
func reportPause(t *testing.T, lat []opLat, st move.Status) {
	var ds []time.Duration
	for _, l := range lat {
		if l.start.Add(l.d).After(st.State.FencedAt) && l.start.Before(st.State.SwitchAt.Add(100*time.Millisecond)) {
			ds = append(ds, l.d)
		}
	}
	if len(ds) == 0 {
		t.Logf("write pause: no write was in flight at the switch")
		return
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	t.Logf("write pause at the switch (%d writes in flight between fence and switch; fence->switch %s): p50 %s, p99 %s, max %s",
		len(ds), st.State.SwitchAt.Sub(st.State.FencedAt).Round(time.Millisecond), q(0.5).Round(time.Microsecond), q(0.99).Round(time.Microsecond), ds[len(ds)-1].Round(time.Microsecond))
}

var _ = errors.Is
