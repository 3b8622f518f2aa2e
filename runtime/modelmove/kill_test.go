package modelmove_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/modelmove"
)

const childVar = "SHARDGEN_MODELMOVE_TEST_CHILD"

func TestMain(m *testing.M) {
	if env := os.Getenv(childVar); env != "" {
		os.Exit(child(env))
	}
	os.Exit(m.Run())
}

type childEnv struct {
	Config  runtime.Config
	To      string
	BlockAt string
}

// child is the mover as a process of its own: it runs the move and, when
// it reaches the phase it was told to stop at, says so and waits to be
// killed.
func child(env string) int {
	var c childEnv
	if err := json.Unmarshal([]byte(env), &c); err != nil {
		fmt.Println("ERR", err)
		return 2
	}
	f := &fixture{cfg: c.Config}
	opts := f.opts(c.To)
	opts.Progress = func(p modelmove.Progress) {
		if p.Phase == c.BlockAt {
			fmt.Printf("AT %s %d\n", p.Phase, p.ID)
			select {} // until SIGKILL
		}
	}
	_, err := modelmove.Run(context.Background(), opts, modelmove.Request{Table: "page_views", To: c.To})
	fmt.Println("ERR", err)
	return 1
}

// killAt runs the mover as a child process, SIGKILLs it when it reaches
// phase and returns the move's ID.
func killAt(t *testing.T, f *fixture, phase, to string) int64 {
	t.Helper()
	env, _ := json.Marshal(childEnv{Config: f.cfg, To: to, BlockAt: phase})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childVar+"="+string(env))
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

// TestKillMover SIGKILLs the mover (a process of its own) at every phase
// while the running version writes. Before the switch the move is aborted
// (nothing is left behind and the source takes writes again), then killed
// at that phase again and resumed; from the switch on abort is refused and
// the move is resumed. Every acknowledged write must be on the new place
// at the end. Each round moves the table to the other database.
func TestKillMover(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cur, other := "analytics", "default"
	l := seed(t, newApp(t, f.router(t, cur), cur), 800)
	phases := []string{modelmove.PhasePreflight, modelmove.PhaseCapture, modelmove.PhaseStaging, modelmove.PhaseCopy, modelmove.PhaseCatchup,
		modelmove.PhaseFence, modelmove.PhaseVerify, modelmove.PhaseSwitch, modelmove.PhaseCleanup}
	for _, phase := range phases {
		v := newApp(t, f.router(t, cur), cur)
		l.stop.Store(false)
		l.run(v, 1, 1)
		id := killAt(t, f, phase, other)
		// Killed at the start of its switch, a move has not switched yet
		// and can be aborted; from cleanup on it has.
		if phase != modelmove.PhaseCleanup {
			st, err := modelmove.Abort(ctx, f.opts(other), id)
			if err != nil || st.Phase != modelmove.PhaseAborted {
				l.halt(t)
				t.Fatalf("abort at %s: %s %v", phase, st.Phase, err)
			}
			for _, db := range []string{cur, other} {
				if a := f.artifacts(t, db, false); a != "" {
					t.Errorf("abort at %s left: %s", phase, a)
				}
			}
			wid, err := v.insert(ctx, 1, "/after-abort")
			if err != nil {
				t.Fatalf("after the abort at %s the source refuses writes: %v", phase, err)
			}
			l.mu.Lock()
			l.live[wid] = "/after-abort"
			l.mu.Unlock()
			id = killAt(t, f, phase, other)
		} else if _, err := modelmove.Abort(ctx, f.opts(other), id); err == nil || !strings.Contains(err.Error(), "has switched") {
			t.Fatalf("abort at %s: %v, want a refusal", phase, err)
		}
		st, err := modelmove.Resume(ctx, f.opts(other), id)
		if err != nil || st.Phase != modelmove.PhaseDone {
			l.halt(t)
			t.Fatalf("resume after a kill at %s: %s %v", phase, st.Phase, err)
		}
		l.halt(t)
		l.check(t, f, other)
		if t.Failed() {
			t.FailNow()
		}
		t.Logf("killed at %s: resumed, %d rows verified, fence to switch %s", phase, st.State.Rows, st.State.Pause().Round(time.Millisecond))
		if _, err := modelmove.Finish(ctx, f.opts(other), st.ID); err != nil {
			t.Fatal(err)
		}
		cur, other = other, cur
	}
}
