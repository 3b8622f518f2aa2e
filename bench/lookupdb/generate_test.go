package lookupdb_test

import (
	"strings"
	"testing"

	"github.com/shardgen/shardgen/gen"
)

// TestGeneratedCodeIsCurrent regenerates the package in memory and fails
// when a committed shardgen_* file differs: the benchmarks must measure
// what the generator emits today.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	res := gen.Generate(gen.Options{Dir: ".", Patterns: []string{"."}})
	if res.Diags.Errors() > 0 {
		var b strings.Builder
		res.Diags.Print(&b, "")
		t.Fatalf("shardgen reports errors for the lookup benchmark models:\n%s", b.String())
	}
	if len(res.Files) == 0 {
		t.Fatal("shardgen generated no files for the lookup benchmark models")
	}
	diffs, err := gen.Stale(res.Files)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("generated code is stale; run go generate ./bench/... and commit the result:\n%s", strings.Join(diffs, "\n"))
	}
}
