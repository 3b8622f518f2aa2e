package runtime

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// TestIDFunctionFirstIDsCarryTheTime mints the first IDs of 16 fresh shards
// from 8 connections at once: every ID tells the time it was minted, also
// those minted while another session held the ID function's lock.
func TestIDFunctionFirstIDsCarryTheTime(t *testing.T) {
	_, urls := pgtest.NewDatabase(t, 1, "app")
	const shards, conns, perConn = 16, 8, 40 // 5,120 IDs
	spec := blogSpec(shards)
	r := openBlog(t, spec, urls)
	ctx := context.Background()
	if err := Migrate(ctx, r, spec, MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	g, _ := r.Group("blog")
	var (
		mu    sync.Mutex
		ids   []int64
		wg    sync.WaitGroup
		ready sync.WaitGroup
		start = make(chan struct{})
	)
	ready.Add(conns)
	for range conns {
		wg.Go(func() {
			c, err := pgx.Connect(ctx, urls[0])
			if err != nil {
				t.Error(err)
				ready.Done()
				return
			}
			defer c.Close(ctx)
			ready.Done()
			<-start
			for s := range Shard(shards) {
				for range perConn {
					var id int64
					if err := c.QueryRow(ctx, "SELECT "+QuoteIdent(g.Schema(s))+".shardgen_next_id()").Scan(&id); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					ids = append(ids, id)
					mu.Unlock()
				}
			}
		})
	}
	ready.Wait()
	begin := time.Now()
	close(start)
	wg.Wait()
	end := time.Now()
	if len(ids) != shards*conns*perConn {
		t.Fatalf("%d IDs minted, want %d", len(ids), shards*conns*perConn)
	}
	late := 0
	for _, id := range ids {
		if at := DefaultLayout().Time(id); at.Before(begin.Add(-time.Second)) || at.After(end.Add(time.Second)) {
			if late < 5 {
				t.Errorf("ID %d has time %s, outside the minting (%s to %s)", id, at, begin, end)
			}
			late++
		}
	}
	if late > 0 {
		t.Errorf("%d of %d first IDs do not carry the time they were minted", late, len(ids))
	}
}

// TestNotMigratedIsTyped calls a shard and a database that were never
// migrated: the error says to run Migrate, and is ErrNotMigrated.
func TestNotMigratedIsTyped(t *testing.T) {
	_, urls := pgtest.NewDatabase(t, 1, "app")
	spec := blogSpec(4)
	r := openBlog(t, spec, urls)
	ctx := context.Background()
	g, _ := r.Group("blog")
	var n int
	err := g.At(3).QueryRow(ctx, g.Prepare("SELECT count(*) FROM @schema@.posts")).Scan(&n)
	var se *ShardError
	var pgErr *pgconn.PgError
	if !errors.Is(err, ErrNotMigrated) || !errors.As(err, &se) || se.Shard != 3 || !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
		t.Fatalf("shard never migrated: err = %v, want ErrNotMigrated in a *ShardError of shard 3, with the 42P01", err)
	}
	if !strings.Contains(err.Error(), "runtime.Migrate") {
		t.Errorf("error %q does not say to run runtime.Migrate", err)
	}
	def, _ := r.Database("default")
	if _, err := def.Target().Exec(ctx, def.Prepare("INSERT INTO @schema@.users (name) VALUES ('x')")); !errors.Is(err, ErrNotMigrated) {
		t.Errorf("database never migrated: err = %v, want ErrNotMigrated", err)
	}
	if err := Migrate(ctx, r, spec, MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := g.At(3).QueryRow(ctx, g.Prepare("SELECT count(*) FROM @schema@.posts")).Scan(&n); err != nil {
		t.Errorf("after Migrate: %v", err)
	}
}

// TestMigratePreflightAllOrNothing adds a unique constraint that the rows
// of some shards violate: no shard changes, the error names exactly the
// failing shards as ranges with PostgreSQL's DETAIL and what to do; once the
// rows are fixed, the change applies everywhere.
func TestMigratePreflightAllOrNothing(t *testing.T) {
	_, urls := pgtest.NewDatabase(t, 2, "app")
	const shards = 64
	spec := blogSpec(shards)
	r := openBlog(t, spec, urls)
	ctx := context.Background()
	if err := Migrate(ctx, r, spec, MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	g, _ := r.Group("blog")
	dupes := []Shard{5, 6, 7, 40}
	insert := g.Prepare("INSERT INTO @schema@.posts (author_id, title) VALUES (1, $1)")
	for s := range Shard(shards) {
		titles := []string{"a", "b"}
		if slices.Contains(dupes, s) {
			titles = []string{"same", "same"}
		}
		for _, title := range titles {
			if _, err := g.At(s).Exec(ctx, insert, title); err != nil {
				t.Fatal(err)
			}
		}
	}
	v2 := blogSpec(shards,
		Migration{Version: 2, Name: "slug", SQL: "ALTER TABLE @schema@.posts ADD COLUMN slug text NOT NULL DEFAULT ''"},
		Migration{Version: 3, Name: "unique_title", SQL: "ALTER TABLE @schema@.posts ADD CONSTRAINT posts_title_key UNIQUE (title)"})
	var run progressLog
	err := Migrate(ctx, r, v2, MigrateOptions{Progress: run.add, Batch: 7})
	var me *MigrateError
	if !errors.As(err, &me) || !errors.Is(err, ErrChangeRejected) || len(me.Shards("blog")) != shards || len(me.Databases()) != 0 {
		t.Fatalf("err = %v, want every shard of blog rejected", err)
	}
	msg := err.Error()
	for _, want := range []string{"group blog shards 5-7,40: ", "DETAIL: Key (title)=(same) is duplicated.", "uniqueness holds per shard", "group blog shards 0-4,8-39,41-63: ", "no shard of group blog was changed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	for _, s := range dupes {
		var pgErr *pgconn.PgError
		if f := me.Failed[s]; !errors.As(f, &pgErr) || pgErr.Code != "23505" || pgErr.Detail == "" {
			t.Errorf("shard %d: %v, want the 23505 with its DETAIL", s, f)
		}
	}
	if got := run.appliedShards("blog"); len(got) != 0 {
		t.Errorf("applied to shards %v", got)
	}
	t.Logf("%s", msg)
	hasSlug := g.Prepare("SELECT count(*) FROM pg_catalog.pg_attribute WHERE attrelid = '@schema@.posts'::regclass AND attname = 'slug'")
	for s := range Shard(shards) {
		var n int
		if err := g.At(s).QueryRow(ctx, hasSlug).Scan(&n); err != nil || n != 0 {
			t.Fatalf("shard %d has column slug (%d, %v): the rejected change half-applied", s, n, err)
		}
	}

	// Fix the rows as the error says, and migrate again.
	for _, s := range dupes {
		if _, err := g.At(s).Exec(ctx, g.Prepare("UPDATE @schema@.posts SET title = title || id")); err != nil {
			t.Fatal(err)
		}
	}
	var again progressLog
	if err := Migrate(ctx, r, v2, MigrateOptions{Progress: again.add}); err != nil {
		t.Fatal(err)
	}
	if got := again.appliedShards("blog"); len(got) != shards {
		t.Errorf("re-run applied to %d shards, want %d", len(got), shards)
	}
}

// TestMigrateErrorRanges: thousands of failed shards read as a few ranges,
// and the distinct causes are listed once each.
func TestMigrateErrorRanges(t *testing.T) {
	e := &MigrateError{Total: 8193}
	for s := range Shard(8192) {
		if s < 512 || s == 768 || s >= 4096 {
			cause := ErrUnavailable
			if s >= 4096 {
				cause = context.DeadlineExceeded
			}
			e.Failed = append(e.Failed, &ShardError{Group: "blog", Shard: s, Server: "a", Err: cause})
		}
	}
	got := e.Error()
	want := "shardgen migrate: 4609 of 8193 schemas not migrated: group blog shards 0-511,768,4096-8191; 2 distinct errors:\n" +
		"\tgroup blog shards 0-511,768: group blog shard 0 (blog_0000) on server \"a\": server unavailable\n" +
		"\tgroup blog shards 4096-8191: group blog shard 4096 (blog_4096) on server \"a\": context deadline exceeded"
	if got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if got := shardRanges([]Shard{1, 2, 3, 5, 7, 8}); got != "1-3,5,7-8" {
		t.Errorf("shardRanges = %q", got)
	}
}
