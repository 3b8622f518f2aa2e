package move_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/move"
	"github.com/shardgen/shardgen/runtime/placement"
)

const childVar = "SHARDGEN_MOVE_TEST_CHILD"

func TestMain(m *testing.M) {
	if env := os.Getenv(childVar); env != "" {
		os.Exit(child(env))
	}
	os.Exit(m.Run())
}

// child is the mover as a process of its own: it runs a move and, when it
// reaches the phase it was told to stop at, says so and waits to be killed.
func child(env string) int {
	var c childEnv
	if err := json.Unmarshal([]byte(env), &c); err != nil {
		fmt.Println("ERR", err)
		return 2
	}
	opts := move.Options{Config: c.Config, Spec: spec(c.Shards)}
	opts.Progress = func(p move.Progress) {
		if p.Phase == c.BlockAt {
			fmt.Printf("AT %s %d\n", p.Phase, p.ID)
			select {} // until SIGKILL
		}
	}
	_, err := move.Run(context.Background(), opts, move.Request{Group: c.Group, Shards: runtime.ShardRange{First: runtime.Shard(c.First), Last: runtime.Shard(c.Last)}, To: c.To})
	fmt.Println("ERR", err)
	return 1
}

// killAt runs the mover as a child process, SIGKILLs it when it reaches
// phase, and returns the move's ID.
func killAt(t *testing.T, f *fixture, phase string, first, last int, to string) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childVar+"="+childEnv{Config: f.cfg, Shards: 16, Group: "blog", First: first, Last: last, To: to, BlockAt: phase}.encode())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "AT ") || strings.HasPrefix(sc.Text(), "ERR ") {
				line <- sc.Text()
				return
			}
		}
		line <- "EOF"
	}()
	var got string
	select {
	case got = <-line:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the mover did not reach phase %s", phase)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	var id int64
	if _, err := fmt.Sscanf(got, "AT "+phase+" %d", &id); err != nil {
		t.Fatalf("mover: %q (want it at phase %s)", got, phase)
	}
	return id
}

// TestKillMover SIGKILLs the mover (a process of its own) at every phase,
// then aborts the move (when it has not switched) and checks that nothing
// is left behind and the source serves the shards as before; then kills it
// at that phase again and resumes it, checks the result, and moves the
// shards back. A writer runs throughout; every acknowledged write must be
// where the placement says at the end.
func TestKillMover(t *testing.T) {
	f := newFixture(t, 16)
	ctx := context.Background()
	r := f.router(t)
	fo, err := placement.Follow(ctx, r, f.cfg.Databases["default"], placement.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	g, _ := r.Group("blog")
	ins := g.Prepare("INSERT INTO @schema@.items (k, v) VALUES ($1, 'w') RETURNING id")

	var (
		mu      sync.Mutex
		written []acked
		stop    atomic.Bool
		werr    = make(chan error, 1)
		k       int64
		fenced  atomic.Int64
	)
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			k++
			s := runtime.Shard(14 + k%2)
			var id int64
			if err := g.At(s).QueryRow(ctx, ins, k).Scan(&id); err != nil {
				if errors.Is(err, runtime.ErrShardMoved) {
					// The mover was killed with the fence up: writes
					// fail (not acknowledged) until the move is resumed
					// or aborted.
					fenced.Add(1)
					continue
				}
				werr <- fmt.Errorf("write k=%d shard %d: %w", k, s, err)
				return
			}
			mu.Lock()
			written = append(written, acked{id, k, s})
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	})
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	phases := []string{move.PhasePreflight, move.PhaseSchemas, move.PhaseCopy, move.PhaseCatchup, move.PhaseFence,
		move.PhaseVerify, move.PhaseIDs, move.PhaseSwitched, move.PhaseCleanup}
	if testing.Short() {
		phases = []string{move.PhaseCatchup, move.PhaseFence, move.PhaseSwitched}
	}
	on := func(s runtime.Shard) string {
		if err := fo.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		return g.ServerOf(s).Name()
	}
	for _, phase := range phases {
		beforeSwitch := phase != move.PhaseSwitched && phase != move.PhaseCleanup
		if beforeSwitch {
			id := killAt(t, f, phase, 14, 15, "c")
			st, err := move.Abort(ctx, f.opts(), id)
			if err != nil {
				t.Fatalf("killed at %s, abort: %v", phase, err)
			}
			if st.Phase != move.PhaseAborted {
				t.Fatalf("killed at %s, aborted move is in phase %s", phase, st.Phase)
			}
			f.noArtifacts(t)
			var n int
			if err := f.conn(t, 2).QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'blog_%'").Scan(&n); err != nil || n != 0 {
				t.Fatalf("killed at %s and aborted: c keeps %d shard schemas (%v)", phase, n, err)
			}
			if s := on(14); s != "b" {
				t.Fatalf("killed at %s and aborted: shard 14 is on %s", phase, s)
			}
			t.Logf("killed at %s, aborted: nothing left", phase)
		}
		id := killAt(t, f, phase, 14, 15, "c")
		if !beforeSwitch {
			if _, err := move.Abort(ctx, f.opts(), id); err == nil {
				t.Fatalf("killed at %s: abort after the switch succeeded", phase)
			}
		}
		st, err := move.Resume(ctx, f.opts(), id)
		if err != nil {
			logs, _ := os.ReadFile(f.servers[2].Dir() + "/server.log")
			t.Fatalf("killed at %s, resume: %v\ntarget's log:\n%s", phase, err, logs)
		}
		if st.Phase != move.PhaseDone || on(14) != "c" || on(15) != "c" {
			t.Fatalf("killed at %s and resumed: phase %s, shard 14 on %s", phase, st.Phase, on(14))
		}
		f.noArtifacts(t)
		back, err := move.Run(ctx, f.opts(), move.Request{Group: "blog", Shards: runtime.ShardRange{First: 14, Last: 15}, To: "b"})
		if err != nil {
			t.Fatalf("moving back after %s: %v", phase, err)
		}
		for _, id := range []int64{st.ID, back.ID} {
			if _, err := move.Finish(ctx, f.opts(), id); err != nil {
				t.Fatal(err)
			}
		}
		f.noArtifacts(t)
		t.Logf("killed at %s, resumed, moved back: nothing left", phase)
	}
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-werr:
		t.Fatal(err)
	default:
	}
	onB := f.rows(t, 1, schemas(14, 15, ""))
	for _, a := range written {
		if onB[a.id] != a.k {
			t.Errorf("acknowledged write id %d k %d (shard %d) is not on b", a.id, a.k, a.shard)
		}
	}
	t.Logf("%d acknowledged writes, all on b; %d writes failed with ErrShardMoved while a killed mover left the fence up", len(written), fenced.Load())
}
