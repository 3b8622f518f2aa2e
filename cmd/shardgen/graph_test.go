package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeGraph matches a diagram in README.md marked with the arguments of
// the shardgen graph run (from the repository root) that draws it.
var readmeGraph = regexp.MustCompile("(?s)<!-- begin shardgen graph: ([^>]*?) -->\n```mermaid\n(.*?)```\n<!-- end shardgen graph -->")

// TestReadmeGraph keeps the README's diagram of the blog what shardgen
// graph draws today.
func TestReadmeGraph(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeGraph.FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no marked shardgen graph diagram")
	}
	t.Chdir(root)
	for _, b := range blocks {
		var stdout, stderr bytes.Buffer
		if rc := run(append([]string{"graph"}, strings.Fields(b[1])...), &stdout, &stderr); rc != 0 {
			t.Fatalf("shardgen graph %s: exit %d\n%s", b[1], rc, stderr.String())
		}
		if stdout.String() != b[2] {
			t.Errorf("README.md shows a diagram that shardgen graph %s no longer draws; replace it with:\n%s", b[1], stdout.String())
		}
	}
}
