package move_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/move"
	"github.com/shardgen/shardgen/runtime/placement"
)

// waitFor polls cond every 20ms for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockWaiters counts sessions on server i waiting for a lock.
func lockWaiters(t *testing.T, c *pgx.Conn) int {
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFence: a transaction that wrote before the fence holds it off and
// commits before it (its row is moved); a writer queued behind the fence
// gets the fence error, not success; a transaction open across the fence
// that writes after it fails with ErrShardMoved and leaves nothing; a
// process whose placement is stale is redirected, for writes and for reads
// through statements it had prepared.
func TestFence(t *testing.T) {
	f := newFixture(t, 16)
	ctx := context.Background()

	r := f.router(t)
	fo, err := placement.Follow(ctx, r, f.cfg.Databases["default"], placement.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	g, _ := r.Group("blog")

	// The stale process: polls once an hour, never listens.
	stale := f.router(t)
	sfo, err := placement.Follow(ctx, stale, f.cfg.Databases["default"], placement.Options{Poll: time.Hour, NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sfo.Close()
	sg, _ := stale.Group("blog")
	sget := sg.Prepare("SELECT count(*) FROM @schema@.items WHERE k = $1")
	var before int64
	if err := sg.At(12).QueryRow(ctx, sget, int64(7)).Scan(&before); err != nil { // prepares it on b
		t.Fatal(err)
	}
	writer := f.router(t)
	wfo, err := placement.Follow(ctx, writer, f.cfg.Databases["default"], placement.Options{Poll: time.Hour, NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	defer wfo.Close()
	wg, _ := writer.Group("blog")
	wins := wg.Prepare("INSERT INTO @schema@.items (k, v) VALUES ($1, 'stale') RETURNING id")
	if err := wg.At(13).QueryRow(ctx, wins, int64(0)).Scan(new(int64)); err != nil { // prepares it on b
		t.Fatal(err)
	}

	// tx3 is open on shard 13 (through the runtime) but has not written.
	tx3go, tx3done := make(chan struct{}), make(chan error, 1)
	ins := g.Prepare("INSERT INTO @schema@.items (k, v) VALUES ($1, 'tx3')")
	sel := g.Prepare("SELECT count(*) FROM @schema@.items")
	go func() {
		tx3done <- g.InTx(ctx, 13, func(tx *runtime.Tx) error {
			var n int64
			if err := tx.QueryRow(ctx, sel).Scan(&n); err != nil {
				return err
			}
			<-tx3go
			_, err := tx.Exec(ctx, ins, int64(3))
			return err
		})
	}()

	opts := f.opts()
	opts.FenceLockTimeout = time.Minute // the fence waits for tx1
	fenced := make(chan struct{})
	atFence, goFence := make(chan struct{}), make(chan struct{})
	opts.Progress = func(p move.Progress) {
		if p.Phase == move.PhaseFence && p.PauseStart.IsZero() {
			close(atFence)
			<-goFence
		}
		if p.Phase == move.PhaseVerify {
			select {
			case <-fenced:
			default:
				close(fenced)
			}
		}
	}
	done := make(chan error, 1)
	var st move.Status
	go func() {
		var err error
		st, err = move.Run(ctx, opts, move.Request{Group: "blog", Shards: runtime.ShardRange{First: 12, Last: 15}, To: "c"})
		done <- err
	}()
	// tx1 opens once the copy runs (creating the replication slot waits
	// for every transaction that wrote), just before the fence.
	<-atFence
	tx1c := f.conn(t, 1)
	tx1, err := tx1c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx1.Exec(ctx, "INSERT INTO blog_0012.items (k, v) VALUES (1, 'open across the fence')"); err != nil {
		t.Fatal(err)
	}
	close(goFence)
	watch := f.conn(t, 1)
	waitFor(t, "the fence to wait for tx1", func() bool { return lockWaiters(t, watch) >= 1 })

	// A writer queued behind the fence.
	queued := make(chan error, 1)
	qc := f.conn(t, 1)
	go func() {
		_, err := qc.Exec(ctx, "INSERT INTO blog_0012.items (k, v) VALUES (2, 'queued behind the fence')")
		queued <- err
	}()
	waitFor(t, "the writer to queue behind the fence", func() bool { return lockWaiters(t, watch) >= 2 })
	if err := tx1.Commit(ctx); err != nil {
		t.Fatalf("tx1 (written before the fence) must commit: %v", err)
	}
	var pgErr *pgconn.PgError
	if err := <-queued; !errors.As(err, &pgErr) || pgErr.Code != runtime.FenceSQLState {
		t.Fatalf("queued writer: got %v, want SQLSTATE %s", err, runtime.FenceSQLState)
	}
	<-fenced
	close(tx3go)
	if err := <-tx3done; !errors.Is(err, runtime.ErrShardMoved) {
		t.Fatalf("tx3 (open across the fence, writing after it): got %v, want ErrShardMoved", err)
	} else {
		t.Logf("tx3: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	onC := f.conn(t, 2)
	count := func(c *pgx.Conn, q string) int {
		var n int
		if err := c.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(onC, "SELECT count(*) FROM blog_0012.items WHERE k = 1"); n != 1 {
		t.Errorf("tx1's row: %d on c, want 1", n)
	}
	if n := count(onC, "SELECT count(*) FROM blog_0012.items WHERE k = 2"); n != 0 {
		t.Errorf("the queued writer's row: %d on c, want 0", n)
	}
	if n := count(onC, "SELECT count(*) FROM blog_0013.items WHERE k = 3"); n != 0 {
		t.Errorf("tx3's row: %d on c, want 0", n)
	}
	if n := count(f.conn(t, 1), fmt.Sprintf("SELECT count(*) FROM shardgen_moved_%d_blog_0012.items WHERE k = 2", st.ID)); n != 0 {
		t.Errorf("the queued writer's row is on b")
	}

	// The stale process still routes shard 12 to b. Its read, through a
	// statement it prepared there before the move, is redirected: it sees
	// a row written on c after the switch.
	if got := sg.ServerOf(12).Name(); got != "b" {
		t.Fatalf("the stale process already follows (shard 12 on %s)", got)
	}
	if _, err := g.At(12).Exec(ctx, ins, int64(7)); err != nil {
		t.Fatal(err)
	}
	var seen int64
	if err := sg.At(12).QueryRow(ctx, sget, int64(7)).Scan(&seen); err != nil {
		t.Fatalf("stale read: %v", err)
	}
	if seen != before+1 {
		t.Fatalf("stale read saw %d rows with k=7, want %d (the row written on c)", seen, before+1)
	}
	if got := sg.ServerOf(12).Name(); got != "c" {
		t.Fatalf("after a stale read shard 12 routes to %s, want c", got)
	}
	// Another stale process writes.
	var id int64
	if err := wg.At(13).QueryRow(ctx, wins, int64(8)).Scan(&id); err != nil {
		t.Fatalf("stale write: %v", err)
	}
	if got := wg.ServerOf(13).Name(); got != "c" {
		t.Fatalf("after a stale write shard 13 routes to %s, want c", got)
	}
	if n := count(onC, fmt.Sprintf("SELECT count(*) FROM blog_0013.items WHERE id = %d", id)); n != 1 {
		t.Errorf("the stale process's write is not on c")
	}
}
