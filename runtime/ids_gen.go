package runtime

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"time"
)

// Bit widths of WorkerLayout, the layout of the DjangoCon talk's Go-side
// style generator: 41 bits of ms, 11 bits of worker (2,048 workers), 12 bits
// of sequence (4,096 IDs per ms per worker).
const (
	WorkerTimeBits   = 41
	WorkerWorkerBits = 11
	WorkerSeqBits    = 12
)

// WorkerLayout returns the 41/11/12 layout used by Generator, with
// DefaultEpoch. In it the middle field is a worker number, not a logical
// shard: IDs minted by a Generator do not route to a shard. Sharded tables
// get their IDs from the per-shard database function instead
// (Layout.IDFunctionSQL), which needs no worker coordination at all.
func WorkerLayout() Layout {
	return Layout{TimeBits: WorkerTimeBits, ShardBits: WorkerWorkerBits, SeqBits: WorkerSeqBits, Epoch: DefaultEpoch()}
}

// Clock is the time source of a Generator. Tests inject a fake one; the
// default reads the monotonic clock (see NewGenerator).
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep blocks for d; a Generator sleeps while it waits for the next
	// millisecond or for a clock that stepped back to catch up.
	Sleep(d time.Duration)
}

// ErrClockBackwards is returned (wrapped) by Generator.Next when the clock
// is further behind the last ID's time than GeneratorConfig.MaxClockBack:
// waiting that long would stall callers, and minting would risk duplicates.
var ErrClockBackwards = errors.New("clock moved backwards")

// GeneratorConfig configures a Generator.
type GeneratorConfig struct {
	// Worker is this process's worker number, 0..Layout.MaxShards()-1. It
	// must be unique among all processes minting IDs for the same tables at
	// the same time (assign it from deployment configuration, e.g. a
	// StatefulSet ordinal); two generators with the same worker number can
	// return the same ID. Required: there is no safe default.
	Worker int
	// Layout is the ID layout; the zero value means WorkerLayout().
	Layout Layout
	// Clock is the time source; nil means the system clock measured
	// monotonically from NewGenerator, so wall-clock steps (NTP) inside one
	// process cannot move it backwards.
	Clock Clock
	// MaxClockBack bounds how long Next waits for a clock that stepped
	// back behind the last ID's millisecond before it returns
	// ErrClockBackwards; zero means one second.
	MaxClockBack time.Duration
}

// Generator mints unique IDs in the process, without a database round trip:
// time, worker number, sequence. It never returns the same ID twice: when
// the sequence of one millisecond is exhausted it waits for the next
// millisecond, and when the clock steps back it waits for it to catch up
// (at most MaxClockBack, else ErrClockBackwards). It is safe for
// concurrent use.
type Generator struct {
	layout  Layout
	worker  int64
	clock   Clock
	maxBack time.Duration

	mu     sync.Mutex
	lastMs int64 // ms of the last ID, -1 before the first
	seq    int64 // sequence of the last ID within lastMs
}

// monoClock is the default Clock: wall time at creation plus the monotonic
// time elapsed since, so it never steps back within a process.
type monoClock struct{ start time.Time }

func (c monoClock) Now() time.Time { return c.start.Add(time.Since(c.start)) }

// Sleep yields instead of sleeping for waits under a millisecond: the
// generator waits that long only when a caller mints faster than the layout
// allows, and a timer sleep of a few microseconds oversleeps by tens of
// them, which cut throughput by a third in BenchmarkGeneratorNext.
func (c monoClock) Sleep(d time.Duration) {
	if d >= time.Millisecond {
		time.Sleep(d)
		return
	}
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		goruntime.Gosched()
	}
}

// NewGenerator validates cfg and returns a Generator.
func NewGenerator(cfg GeneratorConfig) (*Generator, error) {
	l := cfg.Layout
	if l == (Layout{}) {
		l = WorkerLayout()
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if cfg.Worker < 0 || cfg.Worker >= l.MaxShards() {
		return nil, fmt.Errorf("shardgen: generator worker %d out of range 0..%d for ID layout %s", cfg.Worker, l.MaxShards()-1, l)
	}
	clock := cfg.Clock
	if clock == nil {
		// start keeps its monotonic reading: time.Since measures with
		// it, and Sub against the (monotonic-free) epoch uses start's
		// wall time plus that elapsed duration.
		clock = monoClock{start: time.Now()}
	}
	maxBack := cfg.MaxClockBack
	if maxBack <= 0 {
		maxBack = time.Second
	}
	return &Generator{layout: l, worker: int64(cfg.Worker), clock: clock, maxBack: maxBack, lastMs: -1}, nil
}

// Layout returns the generator's ID layout; decode its IDs with it (its
// Shard method returns the worker number).
func (g *Generator) Layout() Layout { return g.layout }

// nowMs returns the clock's milliseconds since the epoch.
func (g *Generator) nowMs() int64 { return g.clock.Now().Sub(g.layout.Epoch).Milliseconds() }

// Next returns a new ID. It blocks while the current millisecond's
// sequence is exhausted (under a millisecond) or while a clock that stepped
// back by at most MaxClockBack catches up; a larger step back, or a time
// outside the layout's range, is an error and no ID.
func (g *Generator) Next() (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.nowMs()
	switch {
	case now < 0:
		return g.compose(now, 0) // before the epoch: a range error
	case now < g.lastMs:
		// The clock stepped back. IDs of the milliseconds since now may
		// already exist, so wait for the clock to pass lastMs again.
		behind := time.Duration(g.lastMs-now) * time.Millisecond
		if behind > g.maxBack {
			return 0, fmt.Errorf("shardgen: generator worker %d: %w by %s (more than %s); refusing to mint IDs that could repeat", g.worker, ErrClockBackwards, behind, g.maxBack)
		}
		if now = g.waitPast(g.lastMs - 1); now < g.lastMs {
			return 0, fmt.Errorf("shardgen: generator worker %d: %w: still %s behind after waiting", g.worker, ErrClockBackwards, time.Duration(g.lastMs-now)*time.Millisecond)
		}
		if now == g.lastMs {
			return g.nextInSameMs(now)
		}
		return g.startMs(now)
	case now == g.lastMs:
		return g.nextInSameMs(now)
	default:
		return g.startMs(now)
	}
}

// nextInSameMs returns the next sequence number of the current millisecond,
// or, when it is used up, waits for the next millisecond.
func (g *Generator) nextInSameMs(now int64) (int64, error) {
	if g.seq < g.layout.MaxSeq() {
		g.seq++
		return g.compose(now, g.seq)
	}
	return g.startMs(g.waitPast(now))
}

// startMs returns the first ID of millisecond now.
func (g *Generator) startMs(now int64) (int64, error) {
	g.lastMs, g.seq = now, 0
	return g.compose(now, 0)
}

func (g *Generator) compose(ms, seq int64) (int64, error) {
	id, err := g.layout.ComposeMillis(ms, Shard(g.worker), seq)
	if err != nil {
		return 0, fmt.Errorf("shardgen: generator worker %d: %w", g.worker, err)
	}
	return id, nil
}

// waitPast sleeps until the clock reads a millisecond later than ms, or
// until MaxClockBack plus one millisecond has been spent sleeping, and
// returns the last reading. Sleeping (rather than spinning) with the
// injected Clock is what lets tests drive the clock.
func (g *Generator) waitPast(ms int64) int64 {
	var slept time.Duration
	for {
		now := g.nowMs()
		if now > ms || slept > g.maxBack+time.Millisecond {
			return now
		}
		// Sleep to the start of ms+1, at least 50µs so a coarse clock
		// does not turn this into a spin.
		d := g.layout.Epoch.Add(time.Duration(ms+1) * time.Millisecond).Sub(g.clock.Now())
		d = max(d, 50*time.Microsecond)
		g.clock.Sleep(d)
		slept += d
	}
}
