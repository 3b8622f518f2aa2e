package modelmove_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/modelmove"
)

// groupCheck says that every acknowledged write is in group blog under the
// new ID the map gives its old one, in the shard of its post_id, through
// version 2's lookups; and that nothing else is there.
func groupCheck(t *testing.T, f *fixture, l *load) {
	t.Helper()
	ctx := context.Background()
	r := f.router(t, "blog")
	legacy, err := modelmove.NewLegacyIDs(r, "page_views")
	if err != nil {
		t.Fatal(err)
	}
	g, _ := r.Group("blog")
	get := g.Prepare(`SELECT "path", "post_id" FROM @schema@."page_views" WHERE "id" = $1`)
	l.mu.Lock()
	defer l.mu.Unlock()
	for old, p := range l.live {
		id, err := legacy.Lookup(ctx, old)
		if err != nil {
			t.Fatalf("old ID %d: %v", old, err)
		}
		s, err := g.ShardOfID(id)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		var post int64
		if err := g.At(s).QueryRow(ctx, get, id).Scan(&got, &post); err != nil || got != p {
			t.Fatalf("old ID %d, new ID %d: %q %v, want %q", old, id, got, err, p)
		}
		if want := runtime.ShardForInt64(post, 8); s != want {
			t.Fatalf("row %d (post %d) is in shard %d, its key's is %d", id, post, s, want)
		}
	}
	for old := range l.gone {
		if id, err := legacy.Lookup(ctx, old); err == nil {
			s, _ := g.ShardOfID(id)
			var got string
			if err := g.At(s).QueryRow(ctx, get, id).Scan(&got, new(int64)); !errors.Is(err, runtime.ErrNotFound) {
				t.Fatalf("deleted old ID %d is back as %d: %q %v", old, id, got, err)
			}
		}
	}
	count := g.Prepare(`SELECT count(*) FROM @schema@."page_views"`)
	total := 0
	for s := range runtime.Shard(8) {
		var n int
		if err := g.At(s).QueryRow(ctx, count).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != len(l.live) {
		t.Fatalf("group blog has %d rows; %d acknowledged rows are live", total, len(l.live))
	}
}

// TestMoveIntoGroup shards page_views (partition analytics -> group blog,
// key post_id) while version 1 writes and reads: rows get new IDs in the
// shard of their key, the map resolves every old ID, nothing is lost or
// written to the old place after the fence. The mover is killed at its
// copy (aborted: nothing is left, the map is gone) and at its
// verification (resumed).
func TestMoveIntoGroup(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v1 := newApp(t, f.router(t, "analytics"), "analytics")
	l := seed(t, v1, 2000)
	l.run(v1, 2, 1)
	id := killAt(t, f, modelmove.PhaseCopy, "blog")
	if st, err := modelmove.Abort(ctx, f.opts("blog"), id); err != nil || st.Phase != modelmove.PhaseAborted {
		l.halt(t)
		t.Fatalf("abort: %s %v", st.Phase, err)
	}
	var left int
	err := f.conn(t, "default").QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'shardgen_modelmove_%'`).Scan(&left)
	if err != nil || left != 0 || f.artifacts(t, "analytics", false) != "" {
		t.Fatalf("abort left schemas (%d, %v) or %s", left, err, f.artifacts(t, "analytics", false))
	}
	var mapLeft bool
	if err := f.conn(t, "default").QueryRow(ctx, "SELECT to_regclass('public.shardgen_legacy_page_views') IS NOT NULL").Scan(&mapLeft); err != nil || mapLeft {
		t.Fatalf("abort left the ID map (%v)", err)
	}
	id = killAt(t, f, modelmove.PhaseVerify, "blog")
	st, err := modelmove.Resume(ctx, f.opts("blog"), id)
	if err != nil || st.Phase != modelmove.PhaseDone {
		l.halt(t)
		t.Fatalf("resume: %s %v", st.Phase, err)
	}
	for l.fenced.Load() < 10 {
		select {
		case err := <-l.errs:
			t.Fatal(err)
		default:
		}
	}
	l.halt(t)
	t.Logf("analytics -> blog: %d acknowledged writes, %d refused by the fence, %d reads; copied %d rows (%.0f rows/s), %d resynced, %d IDs mapped; verified %d rows; fence to switch %s",
		l.acked.Load(), l.fenced.Load(), l.reads.Load(), st.State.Copied, st.State.RowsPerSecond(), st.State.Resynced, st.State.Mapped, st.State.Rows, st.State.Pause())
	groupCheck(t, f, l)
	l.check(t, f, "analytics") // the old table: every acknowledged write, nothing after the fence
	if _, err := v1.insert(ctx, 1, "/late"); !errors.Is(err, runtime.ErrTableMoved) {
		t.Fatalf("a late write of version 1: %v, want runtime.ErrTableMoved", err)
	}
	if a := f.artifacts(t, "analytics", true); a != "" {
		t.Errorf("left behind: %s", a)
	}
}

// TestIntoGroupBadKey: a row without a shard key, or a key of another type,
// is refused before anything changes.
func TestIntoGroupBadKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seed(t, newApp(t, f.router(t, "analytics"), "analytics"), 30) // a third have no viewer_id
	_, err := modelmove.Run(ctx, f.opts("blog"), modelmove.Request{Table: "page_views", To: "blog", Key: "viewer_id"})
	if err == nil || !strings.Contains(err.Error(), "have no shard key (viewer_id is NULL)") || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("NULL shard keys: %v", err)
	}
	// New models sharding by a bigint path: the old paths are text.
	o := f.opts("blog")
	o.Spec.Groups[0].Migrations[0].SQL = strings.Replace(o.Spec.Groups[0].Migrations[0].SQL, `"path" text NOT NULL`, `"path" bigint NOT NULL`, 1)
	_, err = modelmove.Run(ctx, o, modelmove.Request{Table: "page_views", To: "blog", Key: "path"})
	if err == nil || !strings.Contains(err.Error(), "is of type text on database analytics and bigint in group blog") {
		t.Fatalf("a key of another type: %v", err)
	}
	if a := f.artifacts(t, "analytics", false); a != "" {
		t.Errorf("a refused move left: %s", a)
	}
	if list, err := modelmove.List(ctx, f.opts("blog"), 0); err != nil || len(list) != 0 {
		t.Fatalf("refused moves were recorded: %v %v", list, err)
	}
}
