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
// writers retry a stopped server b in a loop without back-off, against its
// rate without the storm, paired: server b stays stopped throughout, and
// phases without and with the storm alternate (20 of each, b.N/40 reads
// each), so that the load of the machine weighs on both alike. With the
// breaker (calls fail without dialling) and without it (every call dials,
// the behaviour before the breaker). Run:
//
//	go test ./runtime -run '^$' -bench RetryStorm -benchtime 20000x -count 3
//
// It reports healthy-ops/s without and with the storm, their ratio
// (storm-%) and storm-calls/s; the package documentation ("Faults") quotes
// the figures.
func BenchmarkRetryStorm(b *testing.B) {
	f := newPGFixture(b)
	if f.servers[1].External() {
		b.Skip("needs servers started by pgtest")
	}
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		noBreaker bool
	}{{"breaker", false}, {"no-breaker", true}} {
		b.Run(c.name, func(b *testing.B) {
			r := f.open(b, PoolConfig{})
			for _, sp := range r.pools {
				sp.noBreaker = c.noBreaker
			}
			g := mustGroup(b, r)
			q := g.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1")
			w := g.Prepare("UPDATE @schema@.kv SET v = v WHERE k = -1")
			// reads runs n reads on server a from 4 workers.
			reads := func(n int64) time.Duration {
				var next atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for range 4 {
					wg.Go(func() {
						var one int
						for next.Add(1) <= n {
							if err := g.At(0).QueryRow(ctx, q).Scan(&one); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				return time.Since(start)
			}
			reads(400) // warm server a's pool
			if err := f.servers[1].Stop(); err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := f.servers[1].Start(); err != nil {
					b.Fatal(err)
				}
			}()
			const rounds = 20
			n := max(int64(b.N)/(2*rounds), 1)
			var calm, stormy time.Duration
			var stormCalls atomic.Int64
			b.ResetTimer()
			for range rounds {
				calm += reads(n)
				var stop atomic.Bool
				var storm sync.WaitGroup
				for range 8 {
					storm.Go(func() {
						for !stop.Load() {
							g.At(8).Exec(ctx, w) // fails: b is down
							stormCalls.Add(1)
						}
					})
				}
				stormy += reads(n)
				stop.Store(true)
				storm.Wait()
			}
			b.StopTimer()
			calmRate := float64(rounds*n) / calm.Seconds()
			stormRate := float64(rounds*n) / stormy.Seconds()
			b.ReportMetric(calmRate, "healthy-ops/s")
			b.ReportMetric(stormRate, "storm-healthy-ops/s")
			b.ReportMetric(100*stormRate/calmRate, "storm-%")
			b.ReportMetric(float64(stormCalls.Load())/stormy.Seconds(), "storm-calls/s")
		})
	}
}
