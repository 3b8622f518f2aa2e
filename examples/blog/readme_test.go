package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/gen"
)

// readmeOutput matches a block of shardgen output pasted in README.md,
// marked with the package shardgen was run on (from the repository root).
var readmeOutput = regexp.MustCompile("(?s)<!-- begin shardgen output: (\\S+) -->\n```\n(.*?)```\n<!-- end shardgen output -->")

// TestReadmeErrorExamples keeps the README's "What errors look like"
// honest: each pasted output must be what shardgen prints today for its
// package, run from the repository root, and no file may be written.
func TestReadmeErrorExamples(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeOutput.FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 2 {
		t.Fatalf("README.md has %d marked shardgen output blocks, want the 2 error examples", len(blocks))
	}
	for _, b := range blocks {
		pkg, want := b[1], b[2]
		t.Run(pkg, func(t *testing.T) {
			res := gen.Generate(gen.Options{Dir: root, Patterns: []string{pkg}})
			var got strings.Builder
			res.Diags.Print(&got, root)
			if res.Diags.Errors() == 0 {
				t.Errorf("shardgen found no error in %s", pkg)
			}
			if len(res.Files) != 0 {
				t.Errorf("shardgen would write %d files despite errors", len(res.Files))
			}
			if got.String() != want {
				t.Errorf("README.md shows output that shardgen no longer prints for %s; replace the block with:\n%s\n(README has:\n%s)", pkg, got.String(), want)
			}
		})
	}
}
