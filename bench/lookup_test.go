package bench_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/shardgen/shardgen/bench/lookupdb"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// BenchmarkGlobalLookup measures a unique=global field (bench/lookupdb)
// on two servers holding 8 of the 16 shards each, paired in one run:
// GetByEmail (the lookup row, then the row: two round trips) against Get
// by ID (one), and Insert of a row with one global unique field (mint and
// lock, claim on the value's shard, insert, commit) against Insert of the
// same row without it. BENCHMARKS.md has the ratios.
func BenchmarkGlobalLookup(b *testing.B) {
	ctx := context.Background()
	n := 2000
	if testing.Short() {
		n = 50
	}
	servers := pgtest.NewWith(b, 2, pgtest.Options{UnixSocket: true})
	var urls []string
	for _, s := range servers {
		if err := s.CreateDatabase(ctx, "lookup"); err != nil {
			b.Fatal(err)
		}
		urls = append(urls, s.URL("lookup"))
	}
	cfg := runtime.Config{Groups: map[string][]runtime.ServerConfig{"accounts": {
		{Name: "a", URL: urls[0], Shards: "0-7"}, {Name: "b", URL: urls[1], Shards: "8-15"},
	}}}
	r, err := runtime.Open(ctx, cfg, lookupdb.Spec)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Close)
	if err := runtime.Migrate(ctx, r, lookupdb.Spec, runtime.MigrateOptions{}); err != nil {
		b.Fatal(err)
	}
	db, err := lookupdb.New(r)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]lookupdb.AccountID, n)
	emails := make([]string, n)
	for i := range n {
		emails[i] = fmt.Sprintf("user%d@example.org", i)
		id, err := db.Accounts.Insert(ctx, &lookupdb.Account{TenantID: int64(i), Email: emails[i], Name: "n"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = id
	}
	b.Run("GetByEmail", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := db.Accounts.GetByEmail(ctx, emails[i%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetByID", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := db.Accounts.Get(ctx, ids[i%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	var seq atomic.Int64
	b.Run("InsertGlobal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			k := seq.Add(1)
			if _, err := db.Accounts.Insert(ctx, &lookupdb.Account{TenantID: k, Email: fmt.Sprintf("new%d@example.org", k), Name: "n"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("InsertPlain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			k := seq.Add(1)
			if _, err := db.PlainAccounts.Insert(ctx, &lookupdb.PlainAccount{TenantID: k, Email: fmt.Sprintf("new%d@example.org", k), Name: "n"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
