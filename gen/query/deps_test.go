package query

import (
	"os/exec"
	"strings"
	"testing"
)

// TestGeneratorDepsStayOut proves that sqlc and pg_query (which compiles
// PostgreSQL's parser with cgo) are linked by the generator only: an
// application built from the runtime and its generated code, the blog
// example's binary, does not link them, while the generator does (so the
// test would notice if the package names changed).
func TestGeneratorDepsStayOut(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	deps := func(pkg string) []string {
		out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		return strings.Fields(string(out))
	}
	generatorOnly := func(p string) bool {
		return strings.HasPrefix(p, "github.com/sqlc-dev/") || strings.HasPrefix(p, "github.com/pganalyze/") ||
			p == "github.com/shardgen/shardgen/gen/query"
	}
	for _, pkg := range []string{
		"github.com/shardgen/shardgen/runtime",
		"github.com/shardgen/shardgen/examples/blog",
		"github.com/shardgen/shardgen/examples/blog/blogdb",
	} {
		for _, p := range deps(pkg) {
			if generatorOnly(p) {
				t.Errorf("%s links %s, a generator dependency", pkg, p)
			}
		}
	}
	var sqlc, pgQuery bool
	for _, p := range deps("github.com/shardgen/shardgen/cmd/shardgen") {
		sqlc = sqlc || p == "github.com/sqlc-dev/sqlc/pkg/cli"
		pgQuery = pgQuery || p == "github.com/pganalyze/pg_query_go/v6"
	}
	if !sqlc || !pgQuery {
		t.Errorf("cmd/shardgen does not link sqlc (%v) and pg_query (%v): the dependency check above proves nothing", sqlc, pgQuery)
	}
}
