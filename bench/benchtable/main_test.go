package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkWorkload/shards=16/GetByID/generated-2   	100	   110 ns/op	 50 cpu-ns/op	 944 B/op	 12 allocs/op
BenchmarkWorkload/shards=16/GetByID/generated-2   	100	   100 ns/op	 40 cpu-ns/op	 944 B/op	 12 allocs/op
BenchmarkWorkload/shards=16/GetByID/generated-2   	100	   900 ns/op	 45 cpu-ns/op	 944 B/op	 12 allocs/op
BenchmarkWorkload/shards=16/GetByID/handpgx-2     	100	   100 ns/op	 40 cpu-ns/op	 944 B/op	 9 allocs/op
BenchmarkWorkload/shards=16/GetByID/gorm-2        	100	   120 ns/op	 90 cpu-ns/op	 9944 B/op	 137 allocs/op
BenchmarkWorkload/shards=16/UpdateByID/generated-2 	100	   100 ns/op	 50 cpu-ns/op	 944 B/op	 11 allocs/op
BenchmarkWorkload/shards=16/UpdateByID/handpgx-2   	100	   100 ns/op	 50 cpu-ns/op	 944 B/op	 11 allocs/op
BenchmarkWorkload/shards=16/UpdateByID/gorm-2      	100	   300 ns/op	 90 cpu-ns/op	 9944 B/op	 204 allocs/op
BenchmarkWorkload/shards=16/UpdateByID/gorm_skiptx-2 	100	   140 ns/op	 80 cpu-ns/op	 9944 B/op	 190 allocs/op
BenchmarkWorkload/shards=16/paired/GetByID/generated_vs_handpgx-2 	100	 200 ns/op	 100 generated-ns/op	 100 handpgx-ns/op	 1.02 ratio
BenchmarkWorkload/shards=16/paired/GetByID/handpgx_vs_gorm-2 	100	 200 ns/op	 80 handpgx-ns/op	 100 gorm-ns/op	 0.8 ratio
BenchmarkRoute/int64/shards=16-2 	1000000	 60.5 ns/op	 0 B/op	 0 allocs/op
--- BENCH: something
PASS
`

func TestParseMedians(t *testing.T) {
	all := map[string]*stats{}
	if err := parse(strings.NewReader(sample), all); err != nil {
		t.Fatal(err)
	}
	g := all["BenchmarkWorkload/shards=16/GetByID/generated"]
	if g == nil || len(g.runs) != 3 {
		t.Fatalf("generated: %+v", g)
	}
	// The median ignores the one slow run.
	if g.ns() != 110 || g.cpu() != 45 || g.allocs() != 12 {
		t.Errorf("medians = %v ns, %v cpu, %v allocs; want 110, 45, 12", g.ns(), g.cpu(), g.allocs())
	}
	if n := len(all); n != 10 {
		t.Errorf("%d benchmarks parsed, want 10", n)
	}
}

func TestBars(t *testing.T) {
	all := map[string]*stats{}
	if err := parse(strings.NewReader(sample), all); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	bars := append(workload(&out, all, "BenchmarkWorkload", 16), others(&out, all)...)
	want := map[string]bool{
		"16 shards GetByID: generated / hand-written pgx <= 1.05, separate (1.100)":           false,
		"16 shards GetByID: generated / hand-written pgx <= 1.05, paired (1.020)":             true,
		"16 shards GetByID: allocations within +2 of hand-written pgx (+3)":                   false,
		"16 shards GetByID: generated >= 1.5x faster than gorm sharding, separate (1.09x)":    false,
		"Route/int64/shards=16: <= 50 ns/op and 0 allocs (60.5 ns, 0 allocs)":                 false,
		"16 shards UpdateByID: generated >= 1.5x faster than gorm sharding, separate (3.00x)": true,
	}
	got := map[string]bool{}
	for _, b := range bars {
		got[b.what] = b.ok
	}
	for what, ok := range want {
		if g, found := got[what]; !found || g != ok {
			t.Errorf("bar %q: got %v (found %v), want %v; all bars: %v", what, g, found, ok, bars)
		}
	}
	// GORM without its implicit transaction is reported, but is no bar.
	if !strings.Contains(out.String(), "SkipDefaultTransaction, which the plugin's README does not set (no BEGIN/COMMIT around a single write): UpdateByID 140.0 ns (1.40x the generated code's time).") {
		t.Errorf("gorm_skiptx line missing:\n%s", out.String())
	}
	for what := range got {
		if strings.Contains(what, "skiptx") {
			t.Errorf("gorm_skiptx made a bar: %s", what)
		}
	}
	// The floor against GORM: context, in a table of its own, no bar.
	for _, row := range []string{"| GetByID | 1.20x | 1.25x |", "| UpdateByID | 3.00x | – |"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("floor row %q missing:\n%s", row, out.String())
		}
	}
	for what := range got {
		if strings.Contains(what, "gorm / hand-written") {
			t.Errorf("the floor against GORM made a bar: %s", what)
		}
	}
	if !strings.Contains(out.String(), "| GetByID | 110.0 ns | 100.0 ns | 120.0 ns | 1.100 | 1.020 | 1.09x | – |") {
		t.Errorf("time table row missing:\n%s", out.String())
	}
}
