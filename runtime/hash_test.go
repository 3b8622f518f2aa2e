package runtime

import (
	"context"
	"hash/fnv"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The key -> shard mapping is part of the data's placement: if any of
// these values change, existing rows become unreachable. Never update them.
func TestHashGoldenInt64(t *testing.T) {
	for _, c := range []struct {
		key        int64
		hash       uint64
		s16, s4096 Shard
	}{
		{0, 0xe220a8397b1dcdaf, 14, 3618},
		{1, 0x910a2dec89025cc1, 9, 2320},
		{2, 0x975835de1c9756ce, 9, 2421},
		{42, 0xbdd732262feb6e95, 11, 3037},
		{-1, 0xe4d971771b652c20, 14, 3661},
		{1 << 40, 0x1fdd7128f310c389, 1, 509},
		{math.MinInt64, 0x481ec0a212a9f3db, 4, 1153},
		{math.MaxInt64, 0x2a67d7552e039ea7, 2, 678},
	} {
		if got := hashInt64(c.key); got != c.hash {
			t.Errorf("hashInt64(%d) = %#016x, want %#016x", c.key, got, c.hash)
		}
		if got := ShardForInt64(c.key, 16); got != c.s16 {
			t.Errorf("ShardForInt64(%d, 16) = %d, want %d", c.key, got, c.s16)
		}
		if got := ShardForInt64(c.key, 4096); got != c.s4096 {
			t.Errorf("ShardForInt64(%d, 4096) = %d, want %d", c.key, got, c.s4096)
		}
	}
}

func TestHashGoldenString(t *testing.T) {
	for _, c := range []struct {
		key        string
		hash       uint64
		s16, s4096 Shard
	}{
		{"", 0xc3817c016ba4ff30, 12, 3128},
		{"a", 0x5f29c2aadd9b8527, 5, 1522},
		{"alice", 0x1a046f573e1e5475, 1, 416},
		{"bob@example.com", 0x5bfcb40f3991f2c6, 5, 1471},
		{"日本", 0xf4288c2908dbf755, 15, 3906},
	} {
		if got := hashString(c.key); got != c.hash {
			t.Errorf("hashString(%q) = %#016x, want %#016x", c.key, got, c.hash)
		}
		if got := ShardForString(c.key, 16); got != c.s16 {
			t.Errorf("ShardForString(%q, 16) = %d, want %d", c.key, got, c.s16)
		}
		if got := ShardForString(c.key, 4096); got != c.s4096 {
			t.Errorf("ShardForString(%q, 4096) = %d, want %d", c.key, got, c.s4096)
		}
	}
}

// The documented functions are the published algorithms: the SplitMix64
// output sequence for seed 0 and the standard library's FNV-1a.
func TestHashIsDocumentedAlgorithm(t *testing.T) {
	// SplitMix64 seeded with 0 yields mix64(0), mix64(gamma), mix64(2*gamma), ...
	const gamma = 0x9e3779b97f4a7c15
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	for i, w := range want {
		x := uint64(i) * gamma
		if got := hashInt64(int64(x)); got != w {
			t.Errorf("splitmix64 output %d = %#016x, want %#016x", i, got, w)
		}
	}
	for _, s := range []string{"", "a", "blog", "a much longer key with spaces and ünïcode"} {
		h := fnv.New64a()
		h.Write([]byte(s))
		if got, want := hashString(s), mix64(h.Sum64()); got != want {
			t.Errorf("hashString(%q) = %#x, want mix64(fnv1a) = %#x", s, got, want)
		}
	}
}

// chiSquare returns the statistic of counts against a uniform expectation.
func chiSquare(counts []int, total int) float64 {
	exp := float64(total) / float64(len(counts))
	var x float64
	for _, c := range counts {
		d := float64(c) - exp
		x += d * d / exp
	}
	return x
}

// TestHashSpread hashes 1e6 sequential and string keys into 16 and 4,096
// shards. A uniform hash gives a chi-square statistic near n-1 with
// standard deviation sqrt(2(n-1)); allow 6 standard deviations.
func TestHashSpread(t *testing.T) {
	const keys = 1_000_000
	for _, n := range []int{16, 4096} {
		for _, kind := range []string{"int64 sequential", "int64 stride 1024", "string"} {
			counts := make([]int, n)
			for i := 0; i < keys; i++ {
				var s Shard
				switch kind {
				case "int64 sequential":
					s = ShardForInt64(int64(i), n)
				case "int64 stride 1024":
					s = ShardForInt64(int64(i)<<10, n)
				default:
					s = ShardForString("user-"+strconv.Itoa(i), n)
				}
				counts[s]++
			}
			df := float64(n - 1)
			limit := df + 6*math.Sqrt(2*df)
			if x := chiSquare(counts, keys); x > limit {
				t.Errorf("%s keys over %d shards: chi-square %.0f > %.0f", kind, n, x, limit)
			}
			lo, hi := keys, 0
			for _, c := range counts {
				lo, hi = min(lo, c), max(hi, c)
			}
			t.Logf("%s over %d shards: min %d max %d per shard (mean %d)", kind, n, lo, hi, keys/n)
		}
	}
}

func TestReduceCoversRange(t *testing.T) {
	for _, n := range []int{1, 2, 16, 8192} {
		if s := reduce(0, n); s != 0 {
			t.Errorf("reduce(0, %d) = %d", n, s)
		}
		if s := reduce(math.MaxUint64, n); int(s) != n-1 {
			t.Errorf("reduce(max, %d) = %d, want %d", n, s, n-1)
		}
	}
}

// routingRouter opens a Router over unreachable addresses: Open does not
// connect, which is all routing needs.
func routingRouter(tb testing.TB, shards int) *Group {
	tb.Helper()
	half := strconv.Itoa(shards/2 - 1)
	cfg := Config{Groups: map[string][]ServerConfig{"blog": {
		{Name: "a", URL: "postgres://u@127.0.0.1:1/a", Shards: "0-" + half},
		{Name: "b", URL: "postgres://u@127.0.0.1:2/b", Shards: strconv.Itoa(shards/2) + "-" + strconv.Itoa(shards-1)},
	}}}
	r, err := Open(context.Background(), cfg, Spec{Groups: []GroupSpec{{Name: "blog", Shards: shards}}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Close)
	g, err := r.Group("blog")
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func TestRoutingAllocs(t *testing.T) {
	g := routingRouter(t, 4096)
	key := int64(12345)
	allocs := testing.AllocsPerRun(1000, func() {
		key++
		tg := g.At(g.ShardOfInt64(key))
		if tg.Server() == nil {
			t.Fatal("no server")
		}
		_ = g.At(g.ShardOfString("alice")).Server()
	})
	if allocs != 0 {
		t.Fatalf("routing allocates %.1f times per op, want 0", allocs)
	}
}

var sinkServer *Server
var sinkTarget Target

// BenchmarkRoute measures key -> logical shard -> server pool (issue bar:
// <= 50 ns/op, 0 allocs).
func BenchmarkRoute(b *testing.B) {
	for _, shards := range []int{16, 4096} {
		g := routingRouter(b, shards)
		b.Run("int64/shards="+strconv.Itoa(shards), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				sinkServer = g.ServerOf(g.ShardOfInt64(int64(i)))
			}
		})
		b.Run("int64-target/shards="+strconv.Itoa(shards), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				sinkTarget = g.At(g.ShardOfInt64(int64(i)))
			}
		})
		// Following the placement: another goroutine applies a new
		// placement every millisecond while the routes run.
		b.Run("int64-target-following/shards="+strconv.Itoa(shards), func(b *testing.B) {
			r := g.router
			done := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				p := r.Placement()
				tick := time.NewTicker(time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-done:
						return
					case <-tick.C:
						p.Version = r.PlacementVersion() + 1
						if err := r.ApplyPlacement(p); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				sinkTarget = g.At(g.ShardOfInt64(int64(i)))
			}
			close(done)
			wg.Wait()
		})
		b.Run("string/shards="+strconv.Itoa(shards), func(b *testing.B) {
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = "user-" + strconv.Itoa(i) + "@example.com"
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				sinkServer = g.ServerOf(g.ShardOfString(keys[i&1023]))
			}
		})
		b.Run("id/shards="+strconv.Itoa(shards), func(b *testing.B) {
			id := int64(1)<<23 | int64(shards-1)<<10
			b.ReportAllocs()
			for b.Loop() {
				s, err := g.ShardOfID(id)
				if err != nil {
					b.Fatal(err)
				}
				sinkServer = g.ServerOf(s)
			}
		})
	}
}
