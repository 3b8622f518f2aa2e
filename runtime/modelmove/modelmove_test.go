package modelmove_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/modelmove"
	"github.com/shardgen/shardgen/runtime/move"
)

// moveServing moves page_views from database from to database to while
// version 1 (page_views on from) writes and reads, then lets version 2
// take over, and checks the promises: no acknowledged write lost, nothing
// written to the old place after the fence (its writes fail with
// runtime.ErrTableMoved), reads by the old IDs keep working on both
// versions, the new version mints IDs above the old ones.
func moveServing(t *testing.T, f *fixture, from, to string, l *load) modelmove.Status {
	t.Helper()
	ctx := context.Background()
	v1 := newApp(t, f.router(t, from), from)
	l.stop.Store(false)
	l.fenced.Store(0)
	l.acked.Store(0)
	l.reads.Store(0)
	l.run(v1, 3, 1)
	st, err := modelmove.Run(ctx, f.opts(to), modelmove.Request{Table: "page_views", To: to})
	if err != nil {
		l.halt(t)
		t.Fatal(err)
	}
	if st.Phase != modelmove.PhaseDone {
		t.Fatalf("phase %s, want done", st.Phase)
	}
	// The running version keeps trying to write for a while after the
	// switch: every write must be refused.
	for l.fenced.Load() < 20 {
		select {
		case err := <-l.errs:
			t.Fatal(err)
		default:
		}
		if _, err := v1.path(ctx, l.stable[0]); err != nil {
			t.Fatal(err)
		}
	}
	l.halt(t)
	t.Logf("%s -> %s: %d acknowledged writes, %d refused by the fence, %d reads; copied %d rows (%.0f rows/s), %d resynced; verified %d rows; fence to switch %s",
		from, to, l.acked.Load(), l.fenced.Load(), l.reads.Load(), st.State.Copied, st.State.RowsPerSecond(), st.State.Resynced, st.State.Rows, st.State.Pause())
	if l.fenced.Load() == 0 {
		t.Fatal("no write met the fence")
	}
	// Nothing was written to the old place after the fence: it holds what
	// the new place holds, and every acknowledged write is on the new
	// place.
	l.check(t, f, to)
	l.check(t, f, from)
	a, err := move.Checksums(ctx, f.conn(t, from), "public", "page_views", []string{"id", "path", "post_id", "tags", "viewed_at", "viewer_id"}, []string{"id"}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := move.Checksums(ctx, f.conn(t, to), "public", "page_views", []string{"id", "path", "post_id", "tags", "viewed_at", "viewer_id"}, []string{"id"}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if i := move.FirstDiff(a, b); i >= 0 {
		t.Fatalf("the old and the new table differ from chunk %d", i)
	}
	for _, db := range []string{from, to} {
		if a := f.artifacts(t, db, db == from); a != "" {
			t.Errorf("left behind: %s", a)
		}
	}
	// Version 2 reads every row by its old ID and writes above them.
	v2 := newApp(t, f.router(t, to), to)
	var maxID int64
	for id, p := range l.live {
		got, err := v2.path(ctx, id)
		if err != nil || got != p {
			t.Fatalf("version 2: row %d: %q, %v; want %q", id, got, err, p)
		}
		maxID = max(maxID, id)
	}
	id, err := v2.insert(ctx, 1, "/v2")
	if err != nil {
		t.Fatal(err)
	}
	if id <= maxID {
		t.Fatalf("version 2 minted ID %d, not above the moved rows' %d", id, maxID)
	}
	l.live[id] = "/v2"
	// Version 1, still running, is refused, typed, and reads the old
	// table.
	_, err = v1.insert(ctx, 1, "/late")
	if !errors.Is(err, runtime.ErrTableMoved) || errors.Is(err, runtime.ErrShardMoved) {
		t.Fatalf("a late write of version 1: %v, want runtime.ErrTableMoved", err)
	}
	if !strings.Contains(err.Error(), "moved from database "+from+" to database "+to) {
		t.Errorf("the fence's message does not say where the table went: %v", err)
	}
	if _, err := v1.path(ctx, l.stable[1]); err != nil {
		t.Fatalf("version 1 reading the old table after the switch: %v", err)
	}
	return st
}

// TestMoveBetweenDatabases moves page_views from partition analytics to
// the default database and back, the running version writing throughout.
func TestMoveBetweenDatabases(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l := seed(t, newApp(t, f.router(t, "analytics"), "analytics"), 3000)
	st := moveServing(t, f, "analytics", "default", l)
	// Moving back needs the old copy gone first.
	_, err := modelmove.Run(ctx, f.opts("analytics"), modelmove.Request{Table: "page_views", To: "analytics"})
	if err == nil || !strings.Contains(err.Error(), "finish") {
		t.Fatalf("moving back before finishing: %v, want a refusal naming finish", err)
	}
	if _, err := modelmove.Finish(ctx, f.opts("default"), st.ID); err != nil {
		t.Fatal(err)
	}
	var old bool
	if err := f.conn(t, "analytics").QueryRow(ctx, "SELECT to_regclass('public.page_views') IS NOT NULL").Scan(&old); err != nil || old {
		t.Fatalf("after finish the old table is still on analytics (%v)", err)
	}
	moveServing(t, f, "default", "analytics", l)
}

// TestBadInput checks that requests the new models or the config do not
// support are refused before anything changes.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seed(t, newApp(t, f.router(t, "analytics"), "analytics"), 10)
	noURL := f.opts("default")
	noURL.Config.Databases = map[string]string{"analytics": f.cfg.Databases["analytics"], "default": ""}
	noURL.Control = f.cfg.Databases["analytics"]
	cases := []struct {
		name string
		opts modelmove.Options
		req  modelmove.Request
		want string
	}{
		{"not described", f.opts("analytics"), modelmove.Request{Table: "page_views", To: "default"}, "do not place table page_views on database default"},
		{"unknown database", f.opts("default"), modelmove.Request{Table: "page_views", To: "archive"}, `no database or group "archive"`},
		{"unknown table", f.opts("default"), modelmove.Request{Table: "page_view", To: "default"}, "do not place table page_view"},
		{"target without URL", noURL, modelmove.Request{Table: "page_views", To: "default"}, `no URL for database "default"`},
		{"bad name", f.opts("default"), modelmove.Request{Table: "Page Views", To: "default"}, "not a table name"},
	}
	for _, c := range cases {
		_, err := modelmove.Run(ctx, c.opts, c.req)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	// The target already has rows.
	def := f.router(t, "default")
	if err := runtime.Migrate(ctx, def, specOn("default"), runtime.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := newApp(t, def, "default").insert(ctx, 1, "/there"); err != nil {
		t.Fatal(err)
	}
	_, err := modelmove.Run(ctx, f.opts("default"), modelmove.Request{Table: "page_views", To: "default"})
	if err == nil || !strings.Contains(err.Error(), "already has rows") || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("target with rows: %v", err)
	}
	for _, db := range []string{"default", "analytics"} {
		if a := f.artifacts(t, db, false); a != "" {
			t.Errorf("a refused move left: %s", a)
		}
	}
	list, err := modelmove.List(ctx, f.opts("default"), 0)
	if err != nil || len(list) != 0 {
		t.Fatalf("refused moves were recorded: %v %v", list, err)
	}
}
