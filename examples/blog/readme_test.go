package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/gen"
)

// TestReadmeErrorExample keeps the README's "What errors look like"
// honest: the output pasted there must be what shardgen prints today for
// examples/blog/testdata/badblog, run from the repository root.
func TestReadmeErrorExample(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- begin badblog output", "<!-- end badblog output -->"
	text := string(readme)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q block", begin, end)
	}
	block := text[i:j]
	block = block[strings.Index(block, "\n```\n")+5:]
	want := block[:strings.LastIndex(block, "```\n")]

	res := gen.Generate(gen.Options{Dir: root, Patterns: []string{"./examples/blog/testdata/badblog"}})
	var got strings.Builder
	res.Diags.Print(&got, root)
	if res.Diags.Errors() == 0 {
		t.Errorf("shardgen found no error in badblog")
	}
	if len(res.Files) != 0 {
		t.Errorf("shardgen would write %d files despite errors", len(res.Files))
	}
	if got.String() != want {
		t.Errorf("README.md shows output that shardgen no longer prints; replace the block with:\n%s\n(README has:\n%s)", got.String(), want)
	}
}
