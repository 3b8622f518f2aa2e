package workload

import (
	"context"
	"fmt"
	"testing"
)

// Run benchmarks every operation of every variant on g, as sub-benchmarks
// named <op>/<variant> (so that a run prints the variants of one operation
// next to each other; use it under a b.Run("shards=N", ...)). Variants of
// one operation run back to back, so slow drift of the machine affects
// them alike.
//
// Before its first timed run, each sub-benchmark runs its operation once
// for every user (or row of every user), untimed: each connection's
// caches (pgx's statement cache, PostgreSQL's catalog caches for thousands
// of schemas) and the generated code's lazily rendered statement texts are
// then as warm as they will get, for every variant alike.
func Run(b *testing.B, g *Group, variants ...Ops) {
	ctx := context.Background()
	type op struct {
		name string
		get  func(Ops) func(i int) error
	}
	ops := []op{
		{"InsertByKey", func(v Ops) func(int) error {
			if v.InsertByKey == nil {
				return nil
			}
			return func(i int) error { return v.InsertByKey(ctx, g.Users[i%len(g.Users)]) }
		}},
		{"GetByID", func(v Ops) func(int) error {
			if v.GetByID == nil {
				return nil
			}
			return func(i int) error { return v.GetByID(ctx, v.Refs[i%len(v.Refs)]) }
		}},
		{"ListByKey", func(v Ops) func(int) error {
			if v.ListByKey == nil {
				return nil
			}
			return func(i int) error { return v.ListByKey(ctx, g.Users[i%len(g.Users)]) }
		}},
		{"UpdateByID", func(v Ops) func(int) error {
			if v.UpdateByID == nil {
				return nil
			}
			return func(i int) error { return v.UpdateByID(ctx, v.Refs[i%len(v.Refs)]) }
		}},
		{"Tx3", func(v Ops) func(int) error {
			if v.Tx3 == nil {
				return nil
			}
			return func(i int) error { return v.Tx3(ctx, v.Refs[i%len(v.Refs)]) }
		}},
		{"CountAllShards", func(v Ops) func(int) error {
			if v.CountAllShards == nil {
				return nil
			}
			min := int64(len(g.Refs))
			return func(int) error {
				n, err := v.CountAllShards(ctx)
				if err == nil && n < min {
					err = fmt.Errorf("counted %d rows, want at least %d", n, min)
				}
				return err
			}
		}},
	}
	for _, o := range ops {
		for _, v := range variants {
			f := o.get(v)
			if f == nil {
				continue
			}
			name := o.name + "/" + v.Name
			b.Run(name, func(b *testing.B) {
				if !g.warm[name] {
					if err := warm(o.name, v, len(g.Users), f); err != nil {
						b.Fatalf("warm-up: %v", err)
					}
					g.warm[name] = true
				}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if err := f(i); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// warm runs an operation once per user (for ID-based operations, on one
// row of each user, so every shard in use is touched; the count once).
func warm(op string, v Ops, users int, f func(int) error) error {
	if op == "CountAllShards" {
		return f(0)
	}
	if op == "GetByID" || op == "UpdateByID" || op == "Tx3" {
		// One row per user of the variant's own rows.
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
	for i := range users {
		if err := f(i); err != nil {
			return err
		}
	}
	return nil
}
