package move_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/move"
	"github.com/shardgen/shardgen/runtime/placement"
)

// TestMigrationAndMoveExclude: a migration started while a move has not
// switched is refused (also while no mover runs), and a move does not start
// while a migration runs.
func TestMigrationAndMoveExclude(t *testing.T) {
	f := newFixture(t, 16)
	ctx := context.Background()
	r := f.router(t)
	fo, err := placement.Follow(ctx, r, f.cfg.Databases["default"], placement.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()

	opts := f.opts()
	opts.StopAfter = move.PhaseCatchup
	req := move.Request{Group: "blog", Shards: runtime.ShardRange{First: 12, Last: 15}, To: "c"}
	st, err := move.Run(ctx, opts, req)
	if !errors.Is(err, move.ErrStopped) {
		t.Fatalf("run: %v", err)
	}
	err = runtime.Migrate(ctx, r, f.spec, runtime.MigrateOptions{})
	if !errors.Is(err, placement.ErrMoveInProgress) || !strings.Contains(err.Error(), "phase catchup") {
		t.Fatalf("migrate during a move: %v", err)
	}
	t.Logf("migrate during a move: %v", err)
	// Another move is refused too.
	if _, err := move.Run(ctx, f.opts(), move.Request{Group: "blog", Shards: runtime.ShardRange{First: 0, Last: 1}, To: "c"}); err == nil || !strings.Contains(err.Error(), "resume or abort it first") {
		t.Fatalf("second move: %v", err)
	}
	if _, err := move.Abort(ctx, f.opts(), st.ID); err != nil {
		t.Fatal(err)
	}
	f.noArtifacts(t)

	// A migration in progress holds the guard: the mover refuses to start.
	release, err := fo.Store().Guard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = move.Run(ctx, f.opts(), req)
	release()
	if err == nil || !strings.Contains(err.Error(), "a migration or another mover is running") {
		t.Fatalf("move during a migration: %v", err)
	}
	t.Logf("move during a migration: %v", err)
	if err := runtime.Migrate(ctx, r, f.spec, runtime.MigrateOptions{}); err != nil {
		t.Fatalf("migrate after the move was aborted: %v", err)
	}
}
