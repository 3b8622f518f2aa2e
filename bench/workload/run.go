package workload

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// op is one operation of the workload, bound to a variant: f(i) runs it on
// the i-th key (user or row) of the run.
type op struct {
	name string
	f    func(i int) error
}

// opNames lists the operations in the order they are benchmarked.
var opNames = []string{"InsertByKey", "GetByID", "ListByKey", "UpdateByID", "Tx3", "CountAllShards"}

// bind returns v's implementation of the operation name on g, or nil when
// the variant does not offer it.
func bind(ctx context.Context, g *Group, v Ops, name string) func(int) error {
	switch name {
	case "InsertByKey":
		if v.InsertByKey != nil {
			return func(i int) error { return v.InsertByKey(ctx, g.Users[i%len(g.Users)]) }
		}
	case "GetByID":
		if v.GetByID != nil {
			return func(i int) error { return v.GetByID(ctx, v.Refs[i%len(v.Refs)]) }
		}
	case "ListByKey":
		if v.ListByKey != nil {
			return func(i int) error { return v.ListByKey(ctx, g.Users[i%len(g.Users)]) }
		}
	case "UpdateByID":
		if v.UpdateByID != nil {
			return func(i int) error { return v.UpdateByID(ctx, v.Refs[i%len(v.Refs)]) }
		}
	case "Tx3":
		if v.Tx3 != nil {
			return func(i int) error { return v.Tx3(ctx, v.Refs[i%len(v.Refs)]) }
		}
	case "CountAllShards":
		if v.CountAllShards != nil {
			least := int64(len(g.Refs))
			return func(int) error {
				n, err := v.CountAllShards(ctx)
				if err == nil && n < least {
					err = fmt.Errorf("counted %d rows, want at least %d", n, least)
				}
				return err
			}
		}
	}
	return nil
}

// Run benchmarks every operation of every variant on g, as sub-benchmarks
// named <op>/<variant> (so that a run prints the variants of one operation
// next to each other; use it under a b.Run("shards=N", ...)). Variants of
// one operation run back to back, so slow drift of the machine affects
// them alike. Besides time and allocations, each reports cpu-ns/op: the
// CPU time the whole benchmark process (garbage collector included) spent
// per operation, the data layer's own cost, which unlike the time does
// not include waiting for the server.
//
// Before any timed run, every operation of every variant runs once for
// every user (or one row of every user), untimed: each connection's caches
// (pgx's statement cache, PostgreSQL's catalog caches for thousands of
// schemas) and the generated code's lazily rendered statement texts are
// then as warm as they will get, for every variant alike, and the
// runtime's exec mode "auto" has made the choice a long-running process
// would have made (at 4,096 shards the texts outgrow the statement cache
// only once several operations have run), so the order of the benchmarks
// does not matter.
func Run(b *testing.B, g *Group, variants ...Ops) {
	ctx := context.Background()
	for _, name := range opNames {
		for _, v := range variants {
			if f := bind(ctx, g, v, name); f != nil {
				g.warmUp(b, name, v, f)
			}
		}
	}
	for _, name := range opNames {
		for _, v := range variants {
			f := bind(ctx, g, v, name)
			if f == nil {
				continue
			}
			b.Run(name+"/"+v.Name, func(b *testing.B) {
				b.ReportAllocs()
				cpu0 := processCPU()
				for i := 0; b.Loop(); i++ {
					if err := f(i); err != nil {
						b.Fatal(err)
					}
				}
				if cpu := processCPU() - cpu0; cpu0 != 0 {
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
				}
			})
		}
	}
}

// RunPaired measures x against y on every operation both offer, in one
// loop that runs them alternately on the same keys (x first on even
// iterations, y first on odd ones), timing each call. Sub-benchmarks are
// named <op>/<x>_vs_<y>; besides ns/op (of the pair) they report
// x-ns/op, y-ns/op and their ratio x/y. Interleaving makes the ratio
// immune to what a separate benchmark cannot control on a shared machine:
// load that comes and goes, and a backend process that runs on a faster
// or slower core in one benchmark than in the next.
func RunPaired(b *testing.B, g *Group, x, y Ops) {
	ctx := context.Background()
	for _, name := range opNames {
		fx, fy := bind(ctx, g, x, name), bind(ctx, g, y, name)
		if fx == nil || fy == nil {
			continue
		}
		b.Run(name+"/"+x.Name+"_vs_"+y.Name, func(b *testing.B) {
			g.warmUp(b, name, x, fx)
			g.warmUp(b, name, y, fy)
			var tx, ty time.Duration
			for i := 0; b.Loop(); i++ {
				first, second, d1, d2 := fx, fy, &tx, &ty
				if i%2 == 1 {
					first, second, d1, d2 = fy, fx, &ty, &tx
				}
				t0 := time.Now()
				err1 := first(i)
				t1 := time.Now()
				err2 := second(i)
				*d1 += t1.Sub(t0)
				*d2 += time.Since(t1)
				if err1 != nil {
					b.Fatal(err1)
				}
				if err2 != nil {
					b.Fatal(err2)
				}
			}
			b.ReportMetric(float64(tx.Nanoseconds())/float64(b.N), x.Name+"-ns/op")
			b.ReportMetric(float64(ty.Nanoseconds())/float64(b.N), y.Name+"-ns/op")
			b.ReportMetric(float64(tx)/float64(ty), "ratio")
		})
	}
}

// warmUp runs an operation of a variant, untimed, once for every user
// (ID-based operations: on one row of every user of the variant's rows, so
// every shard in use is touched; the count once), the first time the
// variant's operation is benchmarked on g.
func (g *Group) warmUp(b *testing.B, name string, v Ops, f func(int) error) {
	b.Helper()
	key := name + "/" + v.Name
	if g.warm[key] {
		return
	}
	err := func() error {
		switch name {
		case "CountAllShards":
			return f(0)
		case "GetByID", "UpdateByID", "Tx3":
			seen := map[int64]bool{}
			for i, r := range v.Refs {
				if !seen[r.User] {
					seen[r.User] = true
					if err := f(i); err != nil {
						return err
					}
				}
			}
			return nil
		}
		for i := range g.Users {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		b.Fatalf("warm-up of %s: %v", key, err)
	}
	g.warm[key] = true
}
