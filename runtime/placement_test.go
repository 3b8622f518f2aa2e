package runtime

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// placementRouter is a group of 16 shards on a (0-7) and b (8-15), with c
// configured but empty.
func placementRouter(t *testing.T) (*Router, *Group) {
	t.Helper()
	cfg := Config{Groups: map[string][]ServerConfig{"blog": {
		{Name: "a", URL: "postgres://u@127.0.0.1:1/a", Shards: "0-7"},
		{Name: "b", URL: "postgres://u@127.0.0.1:2/b", Shards: "8-15"},
		{Name: "c", URL: "postgres://u@127.0.0.1:3/c"},
	}}}
	r, err := Open(context.Background(), cfg, Spec{Groups: []GroupSpec{{Name: "blog", Shards: 16}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	g, _ := r.Group("blog")
	return r, g
}

func TestApplyPlacement(t *testing.T) {
	r, g := placementRouter(t)
	c := g.ServerNamed("c")
	if got := g.ShardsOn(c).String(); got != "none" {
		t.Fatalf("c holds %s before any move, want none", got)
	}
	p := r.Placement()
	if p.Version != 0 || p.Groups["blog"][12] != "b" {
		t.Fatalf("starting placement %+v", p)
	}
	for s := 12; s < 16; s++ {
		p.Groups["blog"][s] = "c"
	}
	p.Version = 3
	if err := r.ApplyPlacement(p); err != nil {
		t.Fatal(err)
	}
	if g.ServerOf(12) != c || g.At(15).Server() != c || g.ServerOf(11).Name() != "b" {
		t.Fatalf("shard 12 on %s, 15 on %s, 11 on %s", g.ServerOf(12), g.At(15).Server(), g.ServerOf(11))
	}
	if got := g.ShardsOn(c).String(); got != "12-15" {
		t.Errorf("ShardsOn(c) = %s", got)
	}
	if got := shardRangesOf(g.ShardsOf(g.ServerNamed("b"))); !slices.Equal(got, []ShardRange{{8, 11}}) {
		t.Errorf("b holds %v", got)
	}
	// An older (or the same) version is ignored.
	old := r.Placement()
	old.Version = 2
	old.Groups["blog"][12] = "a"
	if err := r.ApplyPlacement(old); err != nil || g.ServerOf(12) != c {
		t.Fatalf("older placement applied (%v)", err)
	}
	// A bad placement changes nothing and says why.
	bad := r.Placement()
	bad.Version = 4
	bad.Groups["blog"][0] = "d"
	bad.Groups["nope"] = []string{"a"}
	err := r.ApplyPlacement(bad)
	if err == nil || !strings.Contains(err.Error(), `server "d" is not configured`) || !strings.Contains(err.Error(), `group "nope"`) {
		t.Fatalf("bad placement: %v", err)
	}
	if r.PlacementVersion() != 3 || g.ServerOf(0).Name() != "a" {
		t.Fatalf("a bad placement changed the router")
	}
}

func TestRoutingAllocsWhilePlacementChanges(t *testing.T) {
	r, g := placementRouter(t)
	p := r.Placement()
	p.Version = 1
	p.Groups["blog"][3] = "c"
	if err := r.ApplyPlacement(p); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if g.At(g.ShardOfInt64(7)).Server() == nil {
			t.Fatal("no server")
		}
	})
	if allocs != 0 {
		t.Fatalf("routing allocates %v times per call", allocs)
	}
}

func TestMovedErrors(t *testing.T) {
	fence := &pgconn.PgError{Code: FenceSQLState, Message: "fenced"}
	se := &ShardError{Group: "blog", Shard: 12, Server: "b", Err: fence}
	err := moved(se)
	if !errors.Is(err, ErrShardMoved) {
		t.Fatalf("%v does not match ErrShardMoved", err)
	}
	var pgErr *pgconn.PgError
	var got *ShardError
	if !errors.As(err, &pgErr) || pgErr.Code != FenceSQLState || !errors.As(err, &got) || got.Shard != 12 {
		t.Fatalf("moved error hides its cause: %v", err)
	}
	if moved(moved(se)).Error() != err.Error() {
		t.Errorf("moved twice: %v", moved(moved(se)))
	}
	other := &ShardError{Err: &pgconn.PgError{Code: "23505"}}
	if moved(other) != other {
		t.Errorf("a unique violation became %v", moved(other))
	}
	if !staleSchema(&pgconn.PgError{Code: "42P01"}) || staleSchema(&pgconn.PgError{Code: "23505"}) {
		t.Errorf("staleSchema misclassifies")
	}
}
