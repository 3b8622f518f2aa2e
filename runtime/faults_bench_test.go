package runtime

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRetryStorm measures the rate of a healthy server (4 workers,
// one single-row read each per iteration, shard on server a) while 8
// writers retry a stopped server b in a loop without back-off: with the
// breaker (calls fail without dialling) and without it (every call dials,
// the behaviour before the breaker), against the rate without a storm.
// Run:
//
//	go test ./runtime -run '^$' -bench RetryStorm -benchtime 20000x -count 3
//
// It reports healthy-ops/s and storm-calls/s; the package documentation
// ("Faults") quotes the figures.
func BenchmarkRetryStorm(b *testing.B) {
	f := newPGFixture(b)
	if f.servers[1].External() {
		b.Skip("needs servers started by pgtest")
	}
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		storm     bool
		noBreaker bool
	}{{"no-storm", false, false}, {"storm/breaker", true, false}, {"storm/no-breaker", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			r := f.open(b, PoolConfig{})
			for _, sp := range r.pools {
				sp.noBreaker = c.noBreaker
			}
			g := mustGroup(b, r)
			q := g.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1")
			w := g.Prepare("UPDATE @schema@.kv SET v = v WHERE k = -1")
			if c.storm {
				if err := f.servers[1].Stop(); err != nil {
					b.Fatal(err)
				}
				defer func() {
					if err := f.servers[1].Start(); err != nil {
						b.Fatal(err)
					}
				}()
			}
			var stop atomic.Bool
			var stormCalls atomic.Int64
			var storm sync.WaitGroup
			if c.storm {
				for range 8 {
					storm.Go(func() {
						for !stop.Load() {
							g.At(8).Exec(ctx, w) // fails: b is down
							stormCalls.Add(1)
						}
					})
				}
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range 4 {
				wg.Go(func() {
					var one int
					for next.Add(1) <= int64(b.N) {
						if err := g.At(0).QueryRow(ctx, q).Scan(&one); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			stop.Store(true)
			storm.Wait()
			b.ReportMetric(float64(b.N)/el.Seconds(), "healthy-ops/s")
			b.ReportMetric(float64(stormCalls.Load())/el.Seconds(), "storm-calls/s")
		})
	}
}
