// Command benchtable reads the output of go test -bench runs (files named
// on the command line, or standard input), takes the median of every
// benchmark's repeated results (-count), and prints the tables of
// BENCHMARKS.md: the workload's medians with the ratios between variants,
// and routing, ID minting and generator times, each checked against the
// bars of issue 6.
//
//	go run ./bench/benchtable bench/out/*.txt
//
// With -strict it exits with status 1 when a bar is missed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// result is one line of benchmark output.
type result struct {
	nsOp, allocs float64
	hasAllocs    bool
	metrics      map[string]float64
}

// stats is every result of one benchmark name.
type stats struct {
	runs []result
}

func (s *stats) median(get func(result) float64) float64 {
	vals := make([]float64, 0, len(s.runs))
	for _, r := range s.runs {
		vals = append(vals, get(r))
	}
	slices.Sort(vals)
	n := len(vals)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return vals[n/2]
	}
	return (vals[n/2-1] + vals[n/2]) / 2
}

func (s *stats) ns() float64 { return s.median(func(r result) float64 { return r.nsOp }) }
func (s *stats) cpu() float64 {
	return s.median(func(r result) float64 { return r.metrics["cpu-ns/op"] })
}
func (s *stats) allocs() float64 { return s.median(func(r result) float64 { return r.allocs }) }

// procSuffix is the -GOMAXPROCS suffix go test appends to names.
var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads benchmark lines: name, iterations, then value/unit pairs.
func parse(r io.Reader, into map[string]*stats) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		res := result{metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			switch unit := f[i+1]; unit {
			case "ns/op":
				res.nsOp = v
			case "allocs/op":
				res.allocs, res.hasAllocs = v, true
			default:
				res.metrics[unit] = v
			}
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		st := into[name]
		if st == nil {
			st = &stats{}
			into[name] = st
		}
		st.runs = append(st.runs, res)
	}
	return sc.Err()
}

// bar is one checked claim.
type bar struct {
	what string
	ok   bool
}

func mark(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// dur formats nanoseconds for a table.
func dur(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.0f µs", ns/1e3)
	}
	return fmt.Sprintf("%.1f ns", ns)
}

var singleOps = []string{"InsertByKey", "GetByID", "ListByKey", "UpdateByID", "Tx3"}

// workload prints the workload table of one shard count and returns its
// checked bars. Ratios come from the medians of the separate benchmarks
// of each variant and, where the run has them, from the paired
// (interleaved) benchmarks; a bar is checked on each.
func workload(w io.Writer, all map[string]*stats, prefix string, shards int) []bar {
	get := func(op, v string) *stats {
		return all[fmt.Sprintf("%s/shards=%d/%s/%s", prefix, shards, op, v)]
	}
	// paired returns the median x/y ratio of a paired benchmark, or 0.
	paired := func(op, x, y string) float64 {
		st := all[fmt.Sprintf("%s/shards=%d/paired/%s/%s_vs_%s", prefix, shards, op, x, y)]
		if st == nil {
			return 0
		}
		return st.median(func(r result) float64 { return r.metrics["ratio"] })
	}
	fmtPaired := func(r float64, invert bool) string {
		if r == 0 {
			return "–"
		}
		if invert {
			return fmt.Sprintf("%.2fx", 1/r)
		}
		return fmt.Sprintf("%.3f", r)
	}
	if get("GetByID", "generated") == nil {
		return nil
	}
	var bars []bar
	fmt.Fprintf(w, "\n### %d logical shards\n\n", shards)
	fmt.Fprintln(w, "Time per operation (median), and ratios: separate = of the medians of the separate benchmarks; paired = median of the interleaved runs.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| operation | generated | hand-written pgx | gorm sharding | generated / pgx, separate | paired | gorm / generated, separate | paired |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	var cost strings.Builder
	fmt.Fprintln(&cost, "Client cost per operation (median): allocations, and CPU time of the whole benchmark process (garbage collection included; waiting for the server is not CPU time).")
	fmt.Fprintln(&cost)
	fmt.Fprintln(&cost, "| operation | allocs generated | pgx | gorm | generated − pgx | CPU generated | pgx | gorm | gorm / generated CPU |")
	fmt.Fprintln(&cost, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, op := range singleOps {
		g, h, o := get(op, "generated"), get(op, "handpgx"), get(op, "gorm")
		if g == nil || h == nil {
			continue
		}
		ratio := g.ns() / h.ns()
		pr := paired(op, "generated", "handpgx")
		dAllocs := g.allocs() - h.allocs()
		gormCol, gormRatio, gormPaired, gormAllocs, gormCPU, gormCPURatio := "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"
		if o != nil {
			gormCol = dur(o.ns())
			gormAllocs = fmt.Sprintf("%.0f", o.allocs())
			gr := o.ns() / g.ns()
			gormRatio = fmt.Sprintf("%.2fx", gr)
			gp := paired(op, "generated", "gorm")
			gormPaired = fmtPaired(gp, true)
			if o.cpu() > 0 && g.cpu() > 0 {
				gormCPU = dur(o.cpu())
				gormCPURatio = fmt.Sprintf("%.1fx", o.cpu()/g.cpu())
			}
			bars = append(bars, bar{fmt.Sprintf("%d shards %s: generated >= 1.5x faster than gorm sharding, separate (%.2fx)", shards, op, gr), gr >= 1.5})
			if gp != 0 {
				bars = append(bars, bar{fmt.Sprintf("%d shards %s: generated >= 1.5x faster than gorm sharding, paired (%.2fx)", shards, op, 1/gp), 1/gp >= 1.5})
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.3f | %s | %s | %s |\n",
			op, dur(g.ns()), dur(h.ns()), gormCol, ratio, fmtPaired(pr, false), gormRatio, gormPaired)
		cpuCol := func(st *stats) string {
			if st.cpu() == 0 {
				return "–"
			}
			return dur(st.cpu())
		}
		fmt.Fprintf(&cost, "| %s | %.0f | %.0f | %s | %+.0f | %s | %s | %s | %s |\n",
			op, g.allocs(), h.allocs(), gormAllocs, dAllocs, cpuCol(g), cpuCol(h), gormCPU, gormCPURatio)
		bars = append(bars,
			bar{fmt.Sprintf("%d shards %s: generated / hand-written pgx <= 1.05, separate (%.3f)", shards, op, ratio), ratio <= 1.05})
		if pr != 0 {
			bars = append(bars, bar{fmt.Sprintf("%d shards %s: generated / hand-written pgx <= 1.05, paired (%.3f)", shards, op, pr), pr <= 1.05})
		}
		bars = append(bars, bar{fmt.Sprintf("%d shards %s: allocations within +2 of hand-written pgx (%+.0f)", shards, op, dAllocs), dAllocs <= 2})
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, cost.String())
	// The floor against GORM: how much faster than GORM hand-written pgx
	// is in this run, which bounds what any one-round-trip pgx layer can
	// reach on the 1.5x bar. Context, not a bar.
	var floor strings.Builder
	for _, op := range singleOps {
		h, o := get(op, "handpgx"), get(op, "gorm")
		if h == nil || o == nil {
			continue
		}
		fmt.Fprintf(&floor, "| %s | %.2fx | %s |\n", op, o.ns()/h.ns(), fmtPaired(paired(op, "handpgx", "gorm"), true))
	}
	if floor.Len() > 0 {
		fmt.Fprintln(w, "\nThe hand-written floor against GORM: how much faster hand-written pgx is than gorm sharding in the same run (context for the 1.5x bar, not a bar).")
		fmt.Fprintln(w, "\n| operation | gorm / hand-written pgx, separate | paired |")
		fmt.Fprintln(w, "|---|---:|---:|")
		fmt.Fprint(w, floor.String())
	}
	// GORM's single writes without its implicit transaction: a setting the
	// plugin's README does not use, shown for comparison, not a bar.
	var skip []string
	for _, op := range singleOps {
		g, o := get(op, "generated"), get(op, "gorm_skiptx")
		if g != nil && o != nil {
			skip = append(skip, fmt.Sprintf("%s %s (%.2fx the generated code's time)", op, dur(o.ns()), o.ns()/g.ns()))
		}
	}
	if len(skip) > 0 {
		fmt.Fprintf(w, "\nGORM with SkipDefaultTransaction, which the plugin's README does not set (no BEGIN/COMMIT around a single write): %s.\n", strings.Join(skip, ", "))
	}
	g, h, s := get("CountAllShards", "generated"), get("CountAllShards", "handpgx"), get("CountAllShards", "sequential")
	if g != nil && h != nil && s != nil {
		ratio, speedup := g.ns()/h.ns(), s.ns()/g.ns()
		pr := paired("CountAllShards", "generated", "handpgx")
		fmt.Fprintf(w, "\nFan-out count over all %d shards: generated (FanOut) %s (%.0f allocs), hand-written pgx.Batch per server %s (%.0f allocs), one round trip per shard %s: generated / batch = %.3f (paired %s), sequential / generated = %.1fx.\n",
			shards, dur(g.ns()), g.allocs(), dur(h.ns()), h.allocs(), dur(s.ns()), ratio, fmtPaired(pr, false), speedup)
		bars = append(bars, bar{fmt.Sprintf("%d shards fan-out: generated / hand-written pipeline <= 1.10, separate (%.3f)", shards, ratio), ratio <= 1.10})
		if pr != 0 {
			bars = append(bars, bar{fmt.Sprintf("%d shards fan-out: generated / hand-written pipeline <= 1.10, paired (%.3f)", shards, pr), pr <= 1.10})
		}
		if shards >= 4096 {
			bars = append(bars, bar{fmt.Sprintf("%d shards fan-out: >= 3x faster than one round trip per shard (%.1fx)", shards, speedup), speedup >= 3})
		}
	}
	return bars
}

// others prints the routing, ID and generator benchmarks found.
func others(w io.Writer, all map[string]*stats) []bar {
	var names []string
	for n := range all {
		if strings.HasPrefix(n, "BenchmarkRoute") || strings.HasPrefix(n, "BenchmarkGenerator") ||
			strings.HasPrefix(n, "BenchmarkIDFunction") || strings.HasPrefix(n, "BenchmarkGenerate200") ||
			strings.HasPrefix(n, "BenchmarkPackage200Models") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	var bars []bar
	fmt.Fprintln(w, "\n### Routing, ID minting, generator")
	fmt.Fprintln(w, "\n| benchmark | median | allocs/op | other | runs |")
	fmt.Fprintln(w, "|---|---:|---:|---|---:|")
	for _, n := range names {
		st := all[n]
		other := ""
		if v := st.median(func(r result) float64 { return r.metrics["IDs/s"] }); v > 0 {
			other = fmt.Sprintf("%.0f IDs/s", v)
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %s | %d |\n", strings.TrimPrefix(n, "Benchmark"), dur(st.ns()), st.allocs(), other, len(st.runs))
		switch {
		case strings.HasPrefix(n, "BenchmarkRoute"):
			bars = append(bars, bar{fmt.Sprintf("%s: <= 50 ns/op and 0 allocs (%.1f ns, %.0f allocs)", strings.TrimPrefix(n, "Benchmark"), st.ns(), st.allocs()), st.ns() <= 50 && st.allocs() == 0})
		case strings.HasPrefix(n, "BenchmarkGenerate200"):
			bars = append(bars, bar{fmt.Sprintf("generator on 200 models <= 2 s (%s)", dur(st.ns())), st.ns() <= 2e9})
		}
	}
	return bars
}

func main() {
	strict := flag.Bool("strict", false, "exit with status 1 when a bar is missed")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: benchtable [-strict] [go test -bench output files...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	all := map[string]*stats{}
	if flag.NArg() == 0 {
		if err := parse(os.Stdin, all); err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(2)
		}
	}
	for _, path := range flag.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(2)
		}
		err = parse(f, all)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchtable: %s: %v\n", path, err)
			os.Exit(2)
		}
	}
	if len(all) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results in the input")
		os.Exit(2)
	}
	w := os.Stdout
	fmt.Fprintln(w, "## Medians and ratios")
	var bars []bar
	for _, shards := range []int{16, 4096} {
		bars = append(bars, workload(w, all, "BenchmarkWorkload", shards)...)
	}
	bars = append(bars, others(w, all)...)
	fmt.Fprintln(w, "\n### Bars")
	fmt.Fprintln(w)
	missed := 0
	for _, b := range bars {
		fmt.Fprintf(w, "- %s: %s\n", b.what, mark(b.ok))
		if !b.ok {
			missed++
		}
	}
	fmt.Fprintf(w, "\n%d of %d bars hold.\n", len(bars)-missed, len(bars))
	if *strict && missed > 0 {
		os.Exit(1)
	}
}
