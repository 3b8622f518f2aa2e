package runtime

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a Clock under the test's control. Sleep advances the time by
// the requested duration when advanceOnSleep is set, as a real clock would;
// otherwise it only counts the sleeps (a clock stuck in the past).
type fakeClock struct {
	mu             sync.Mutex
	now            time.Time
	advanceOnSleep bool
	sleeps         int
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps++
	if c.advanceOnSleep {
		c.now = c.now.Add(d)
	}
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func newFakeGen(t *testing.T, worker int, clock *fakeClock, maxBack time.Duration) *Generator {
	t.Helper()
	g, err := NewGenerator(GeneratorConfig{Worker: worker, Clock: clock, MaxClockBack: maxBack})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func mustNext(t *testing.T, g *Generator) int64 {
	t.Helper()
	id, err := g.Next()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestGeneratorNoDuplicatesConcurrent(t *testing.T) {
	const goroutines, perG = 10, 1_000_000
	g, err := NewGenerator(GeneratorConfig{Worker: 2047})
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]int64, goroutines)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range out {
		wg.Go(func() {
			ids := make([]int64, perG)
			for j := range ids {
				id, err := g.Next()
				if err != nil {
					t.Error(err)
					return
				}
				ids[j] = id
			}
			out[i] = ids
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(out...)
	if len(all) != goroutines*perG {
		t.Fatalf("got %d IDs, want %d", len(all), goroutines*perG)
	}
	slices.Sort(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			t.Fatalf("duplicate ID %d", all[i])
		}
	}
	l := g.Layout()
	if w := l.Shard(all[0]); w != 2047 {
		t.Errorf("worker of first ID = %d, want 2047", w)
	}
	if d := time.Since(l.Time(all[len(all)-1])); d < -time.Millisecond || d > time.Minute {
		t.Errorf("last ID's time is %s away from now", d)
	}
	t.Logf("%d IDs from %d goroutines in %s (%.0f IDs/s; the 41/11/12 layout caps a worker at 4,096,000/s)",
		len(all), goroutines, elapsed, float64(len(all))/elapsed.Seconds())
}

func TestGeneratorSequenceOverflowWaitsForNextMs(t *testing.T) {
	t0 := DefaultEpoch().Add(1000 * time.Millisecond)
	clock := &fakeClock{now: t0, advanceOnSleep: true}
	g := newFakeGen(t, 3, clock, 0)
	l := g.Layout()
	prev := int64(-1)
	for i := range 4096 {
		id := mustNext(t, g)
		if id <= prev {
			t.Fatalf("ID %d not increasing", i)
		}
		prev = id
		if l.Millis(id) != 1000 || l.Seq(id) != int64(i) || l.Shard(id) != 3 {
			t.Fatalf("ID %d = ms %d seq %d worker %d", i, l.Millis(id), l.Seq(id), l.Shard(id))
		}
	}
	if clock.sleeps != 0 {
		t.Fatalf("slept %d times before the sequence ran out", clock.sleeps)
	}
	// The 4,097th ID of the same ms must not wrap to seq 0 of ms 1000: it
	// waits for ms 1001.
	id := mustNext(t, g)
	if clock.sleeps == 0 {
		t.Error("did not wait when the sequence overflowed")
	}
	if l.Millis(id) != 1001 || l.Seq(id) != 0 || id <= prev {
		t.Errorf("after overflow: ms %d seq %d, want 1001/0", l.Millis(id), l.Seq(id))
	}
	if clock.Now().Before(t0.Add(time.Millisecond)) {
		t.Errorf("clock %s not advanced to the next ms", clock.Now())
	}
}

func TestGeneratorClockBackWaits(t *testing.T) {
	t0 := DefaultEpoch().Add(time.Hour)
	clock := &fakeClock{now: t0, advanceOnSleep: true}
	g := newFakeGen(t, 1, clock, time.Second)
	first := mustNext(t, g)
	second := mustNext(t, g)
	// NTP steps the clock back by 300 ms: the generator must not mint in
	// the 300 ms it already used, it sleeps until the clock passes them.
	clock.set(t0.Add(-300 * time.Millisecond))
	third := mustNext(t, g)
	if !(first < second && second < third) {
		t.Fatalf("IDs not increasing across clock step back: %d %d %d", first, second, third)
	}
	if clock.sleeps == 0 {
		t.Error("did not wait for the clock to catch up")
	}
	if got := clock.Now(); got.Before(t0) {
		t.Errorf("returned before the clock caught up: now %s < %s", got, t0)
	}
}

func TestGeneratorClockBackBeyondBoundErrors(t *testing.T) {
	t0 := DefaultEpoch().Add(time.Hour)
	clock := &fakeClock{now: t0, advanceOnSleep: true}
	g := newFakeGen(t, 1, clock, 100*time.Millisecond)
	mustNext(t, g)
	clock.set(t0.Add(-5 * time.Second))
	if _, err := g.Next(); !errors.Is(err, ErrClockBackwards) {
		t.Fatalf("Next after 5 s step back = %v, want ErrClockBackwards", err)
	}
	if clock.sleeps != 0 {
		t.Errorf("slept %d times before refusing a step back beyond the bound", clock.sleeps)
	}
	// Once the clock is right again, minting resumes above the old IDs.
	clock.set(t0.Add(time.Millisecond))
	if id := mustNext(t, g); g.Layout().Millis(id) != 3_600_001 {
		t.Errorf("after recovery ms = %d", g.Layout().Millis(id))
	}
}

func TestGeneratorStuckClockErrorsAfterBound(t *testing.T) {
	t0 := DefaultEpoch().Add(time.Hour)
	clock := &fakeClock{now: t0} // Sleep does not move it
	g := newFakeGen(t, 1, clock, 20*time.Millisecond)
	mustNext(t, g)
	clock.set(t0.Add(-10 * time.Millisecond))
	if _, err := g.Next(); !errors.Is(err, ErrClockBackwards) {
		t.Fatalf("Next with a clock stuck in the past = %v, want ErrClockBackwards", err)
	}
	if clock.sleeps == 0 {
		t.Error("gave up without waiting")
	}
}

func TestNewGeneratorRejects(t *testing.T) {
	for _, w := range []int{-1, 2048} {
		if _, err := NewGenerator(GeneratorConfig{Worker: w}); err == nil {
			t.Errorf("worker %d accepted", w)
		}
	}
	bad := WorkerLayout()
	bad.SeqBits++
	if _, err := NewGenerator(GeneratorConfig{Layout: bad}); err == nil {
		t.Error("invalid layout accepted")
	}
	clock := &fakeClock{now: DefaultEpoch().Add(-time.Second)}
	g := newFakeGen(t, 0, clock, 0)
	if _, err := g.Next(); !errors.Is(err, ErrIDRange) {
		t.Errorf("Next before the epoch = %v, want ErrIDRange", err)
	}
}

func BenchmarkGeneratorNext(b *testing.B) {
	g, err := NewGenerator(GeneratorConfig{Worker: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGeneratorNextParallel(b *testing.B) {
	g, err := NewGenerator(GeneratorConfig{Worker: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := g.Next(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// tickClock advances one millisecond every 1,000 readings, so the sequence
// never runs out and the benchmark measures minting alone, not the
// layout's 4,096-per-ms cap that BenchmarkGeneratorNext runs into.
type tickClock struct{ n atomic.Int64 }

func (c *tickClock) Now() time.Time {
	return DefaultEpoch().Add(time.Duration(c.n.Add(1)/1000) * time.Millisecond)
}
func (c *tickClock) Sleep(time.Duration) {}

func BenchmarkGeneratorNextUncapped(b *testing.B) {
	g, err := NewGenerator(GeneratorConfig{Worker: 1, Clock: &tickClock{}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
