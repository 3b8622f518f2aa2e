package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardgen/shardgen/runtime/pgtest"
)

// TestRunGrow runs `go run ./examples/blog -grow` (make demo-grow): the
// demo on two throwaway servers, then shards 12-15 moved to a third while
// four writers keep writing. The posts on c after the move are those of
// shards 12-15 (b keeps only 8-11's), and the total grew by exactly the
// posts written meanwhile.
func TestRunGrow(t *testing.T) {
	if _, err := pgtest.BinDir(pgtest.Options{}); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI=true requires the PostgreSQL binaries", err)
		}
		t.Skipf("%v; the demo's throwaway mode needs the PostgreSQL binaries", err)
	}
	if os.Getenv(pgtest.EnvDatabaseURL) != "" {
		t.Skip("the grow demo starts servers of its own")
	}
	tmp := t.TempDir()
	for _, d := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, nil, "", "", true); err != nil {
		t.Fatalf("run -grow: %v\n%s", err, out.String())
	}
	s := out.String()
	t.Logf("%s", s)
	re := regexp.MustCompile(`posts per server (before|after): *a \(shards ([0-9-]+|none)\) (\d+), b \(shards ([0-9-]+|none)\) (\d+), c \(shards ([0-9-]+|none)\) (\d+)`)
	m := re.FindAllStringSubmatch(s, -1)
	if len(m) != 2 {
		t.Fatalf("want the counts before and after, got %v", m)
	}
	before, after := m[0], m[1]
	if before[2] != "0-7" || before[4] != "8-15" || before[6] != "none" || before[7] != "0" {
		t.Errorf("before: %v", before[0])
	}
	if after[2] != "0-7" || after[4] != "8-11" || after[6] != "12-15" {
		t.Errorf("after: %v", after[0])
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	written := regexp.MustCompile(`(\d+) posts written meanwhile`).FindStringSubmatch(s)
	if written == nil {
		t.Fatal("no count of posts written during the move")
	}
	if got, want := n(after[3])+n(after[5])+n(after[7]), n(before[3])+n(before[5])+n(written[1]); got != want {
		t.Errorf("after the move %d posts, want %d (before) + %s (written meanwhile)", got, n(before[3])+n(before[5]), written[1])
	}
	if n(after[7]) == 0 {
		t.Errorf("no posts on c")
	}
	if !strings.Contains(s, "every post written during the move reads back by its ID") {
		t.Error("the posts written during the move were not checked")
	}
	left, _ := os.ReadDir(tmp)
	for _, e := range left {
		t.Errorf("left behind in the temporary directory: %s", e.Name())
	}
}
